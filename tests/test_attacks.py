"""FGSM and PGD: agreement with captum.robust, the eps ball, the pixel range, model state."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from captum.robust import FGSM, PGD

from course_utils.data.transforms import to_float
from course_utils.models.backbones import SmallCNN
from course_utils.robustness.attacks import (
    feature_pgd,
    fgsm,
    input_gradient,
    pgd,
    pgd_restarts,
    project,
    random_in_ball,
)

# captum sets requires_grad on our inputs itself and says so; that is expected here
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


def per_example_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """captum sums the gradients of a per-example loss, as our summed cross-entropy does."""
    return F.cross_entropy(logits, labels, reduction="none")


@pytest.fixture(scope="module")
def fashion(fashion_test) -> tuple[torch.Tensor, torch.Tensor]:
    """200 real test images (many pixels sit exactly at 0): float in [0, 1] and labels."""
    return to_float(fashion_test.images[:200]), fashion_test.labels[:200]


@pytest.fixture(scope="module")
def linear_model(fashion_train) -> nn.Module:
    """Logistic regression fitted to 2000 real training images in a second (about 80% accurate)."""
    torch.manual_seed(0)
    x, y = to_float(fashion_train.images[:2000]), fashion_train.labels[:2000]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def cnn() -> nn.Module:
    torch.manual_seed(0)
    return SmallCNN(widths=(8, 16, 32)).eval()


def accuracy_on(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


# ---------------------------------------------------------------- agreement with captum

@pytest.mark.parametrize("targeted", [False, True])
def test_fgsm_matches_captum(cnn, fashion, targeted):
    x, y = fashion[0][:32], fashion[1][:32]
    labels = (y + 3) % 10 if targeted else y
    reference = FGSM(cnn, per_example_loss, lower_bound=0.0, upper_bound=1.0)
    reference.zero_thresh = 0.0  # captum skips |grad| <= 1e-6; plain FGSM steps on any nonzero grad
    expected = reference.perturb(x, epsilon=0.05, target=labels, targeted=targeted)
    ours = fgsm(cnn, x, labels, eps=0.05, targeted=targeted)
    assert torch.allclose(ours, expected, atol=1e-6)


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_linf_with_random_start_matches_captum(cnn, fashion, targeted):
    x, y = fashion[0][:16], fashion[1][:16]
    labels = (y + 1) % 10 if targeted else y
    reference = PGD(cnn, per_example_loss, lower_bound=0.0, upper_bound=1.0)
    reference.fgsm.zero_thresh = 0.0
    torch.manual_seed(7)  # captum draws the random start from the global generator
    expected = reference.perturb(x, radius=0.1, step_size=0.02, step_num=5, target=labels,
                                 targeted=targeted, random_start=True, norm="Linf")
    torch.manual_seed(7)
    ours = pgd(cnn, x, labels, eps=0.1, alpha=0.02, steps=5, random_start=True, targeted=targeted)
    assert torch.allclose(ours, expected, atol=1e-5)
    # an explicit generator with the same seed gives the same start as the global one
    seeded = pgd(cnn, x, labels, eps=0.1, alpha=0.02, steps=5, targeted=targeted,
                 generator=torch.Generator().manual_seed(7))
    assert torch.allclose(seeded, ours, atol=1e-6)


def sign_model(d: int, scale: float = 3.0) -> nn.Module:
    """Two classes, logits (0, scale * s.x) with s = +-1: every input gradient is +-c * s.

    All gradient entries then have the same magnitude, so sign(g) = sqrt(d) * g / ||g||_2
    and captum's L2 PGD (sign steps, then L2 projection) must equal ours (normalised
    gradient steps) with its step size divided by sqrt(d).
    """
    s = torch.where(torch.arange(d) % 3 == 0, -1.0, 1.0)
    linear = nn.Linear(d, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([torch.zeros(d), scale * s / d ** 0.5]))
    return nn.Sequential(nn.Flatten(), linear).eval()


@pytest.mark.parametrize("batch, random_start", [(5, False), (1, True)])
def test_pgd_l2_matches_captum(fashion, batch, random_start):
    # captum's L2 random start broadcasts its radii over the last image axis, so it only
    # works for a batch of one: we compare random starts there and plain starts on a batch.
    x, y = fashion[0][:batch], fashion[1][:batch] % 2
    d = x[0].numel()
    model = sign_model(d)
    eps, alpha, steps = 1.5, 0.4, 6
    reference = PGD(model, per_example_loss, lower_bound=0.0, upper_bound=1.0)
    reference.fgsm.zero_thresh = 0.0
    torch.manual_seed(3)
    expected = reference.perturb(x, radius=eps, step_size=alpha / d ** 0.5, step_num=steps,
                                 target=y, random_start=random_start, norm="L2")
    torch.manual_seed(3)
    ours = pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, norm="l2", random_start=random_start)
    assert torch.allclose(ours, expected, atol=1e-5)
    assert (ours - x).flatten(1).norm(dim=1).max() <= eps + 1e-4


def test_l2_projection_equals_torch_renorm():
    """captum projects onto the L2 ball with torch.renorm; ours agrees."""
    delta = torch.randn(6, 3, 4, 4) * torch.tensor([0.1, 0.5, 1, 2, 5, 10]).view(-1, 1, 1, 1)
    assert torch.allclose(project(delta, 1.0, "l2"), torch.renorm(delta, 2, 0, 1.0), atol=1e-6)


# ---------------------------------------------------------------- the budget and the pixel range

ATTACKS = {
    "fgsm": lambda m, x, y, eps: fgsm(m, x, y, eps),
    "pgd_linf": lambda m, x, y, eps: pgd(m, x, y, eps, alpha=eps / 4, steps=6),
    "pgd_l2": lambda m, x, y, eps: pgd(m, x, y, eps * 10, alpha=eps * 3, steps=6, norm="l2"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_inside_eps_ball_and_pixel_range(cnn, fashion, name):
    x, y = fashion[0][:64], fashion[1][:64]
    eps = 0.1
    x_adv = ATTACKS[name](cnn, x, y, eps)
    assert x_adv.shape == x.shape and x_adv.dtype == torch.float32
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert not x_adv.requires_grad
    delta = (x_adv - x).flatten(1)
    if name == "pgd_l2":
        assert delta.norm(dim=1).max() <= 10 * eps + 1e-4
    else:
        assert delta.abs().max() <= eps + 1e-6
    # the attack does use its budget: black pixels can only go up, but the rest moves
    assert delta.abs().max() > eps / 2


def test_random_start_lies_in_ball():
    like = torch.zeros(50, 1, 8, 8)
    generator = torch.Generator().manual_seed(0)
    linf = random_in_ball(like, 0.3, "linf", generator)
    l2 = random_in_ball(like, 0.3, "l2", generator)
    assert linf.abs().max() <= 0.3 and linf.abs().max() > 0.25
    lengths = l2.flatten(1).norm(dim=1)
    assert lengths.max() <= 0.3 + 1e-6 and lengths.min() > 0.2  # in 64 dimensions mass sits near the rim


def test_uint8_input_gives_same_result_as_float(cnn):
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(4)
    assert torch.equal(fgsm(cnn, images, labels, 0.05), fgsm(cnn, to_float(images), labels, 0.05))


def test_unknown_norm_is_refused(cnn):
    with pytest.raises(ValueError, match="norm"):
        pgd(cnn, torch.rand(2, 1, 28, 28), torch.arange(2), 0.1, 0.01, 1, norm="l1")


# ---------------------------------------------------------------- the attacks work

def test_attacks_lower_accuracy_on_real_data(linear_model, fashion):
    x, y = fashion
    clean = accuracy_on(linear_model, x, y)
    after_fgsm = accuracy_on(linear_model, fgsm(linear_model, x, y, 0.1), y)
    after_pgd = accuracy_on(linear_model, pgd(linear_model, x, y, 0.1, 0.025, 10), y)
    noise = (x + 0.1 * torch.randn_like(x).sign()).clamp(0, 1)
    after_noise = accuracy_on(linear_model, noise, y)
    assert clean > 0.7
    assert after_noise > clean - 0.15  # random +-eps noise barely matters ...
    assert after_fgsm < 0.2            # ... the worst-case direction does
    assert after_pgd <= after_fgsm + 0.02


def test_targeted_attacks_reach_the_target(linear_model, fashion):
    x = fashion[0][:100]
    target = torch.full((100,), 8)  # "Bag"
    x_fgsm = fgsm(linear_model, x, target, 0.1, targeted=True)
    x_pgd = pgd(linear_model, x, target, 0.1, 0.02, 10, targeted=True)
    hit = [accuracy_on(linear_model, z, target) for z in (x, x_fgsm, x_pgd)]
    assert hit[0] < 0.2 and hit[1] > 0.55 and hit[2] > 0.6  # measured: 0.11, 0.72, 0.76


# ---------------------------------------------------------------- the model is left as found

def test_model_modes_grads_and_buffers_left_as_found(fashion):
    torch.manual_seed(0)
    model = SmallCNN(widths=(8, 16, 32), dropout=0.5).train()
    model.stages[0].eval()                        # mixed modes, as in a partly frozen model
    for p in model.stages[0].parameters():
        p.requires_grad_(False)
    for p in model.classifier.parameters():
        p.grad = torch.full_like(p, 0.25)          # a gradient the learner accumulated
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = fashion[0][:16], fashion[1][:16]
    x_before = x.clone()
    with torch.no_grad():  # attacks need gradients even when the caller switched them off
        fgsm(model, x, y, 0.1)
        pgd(model, x, y, 0.1, 0.03, 3)
        pgd(model, x, y, 1.0, 0.3, 3, norm="l2")
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # BN stats too
    assert all(torch.equal(p.grad, torch.full_like(p, 0.25)) for p in model.classifier.parameters())
    assert all(p.grad is None for p in model.stages.parameters())
    assert torch.equal(x, x_before) and not x.requires_grad


def test_input_gradient_is_deterministic_despite_dropout(fashion):
    torch.manual_seed(0)
    model = SmallCNN(widths=(8, 16, 32), dropout=0.5).train()
    x, y = fashion[0][:8], fashion[1][:8]
    assert torch.equal(input_gradient(model, x, y), input_gradient(model, x, y))


def test_pgd_restarts_keep_the_first_start_that_fools(linear_model, fashion):
    x, y = fashion
    options = dict(eps=0.2, alpha=0.01, steps=0)  # random starts only: each start is a new draw
    with torch.no_grad():
        right = linear_model(x).argmax(1) == y
    single = pgd(linear_model, x, y, generator=torch.Generator().manual_seed(0), **options)
    several = pgd_restarts(linear_model, x, y, restarts=8, generator=torch.Generator().manual_seed(0),
                           **options)
    with torch.no_grad():
        survive_single = (linear_model(single).argmax(1) == y) & right
        survive_several = (linear_model(several).argmax(1) == y) & right
    assert (survive_several <= survive_single).all()  # restarts never un-fool an example
    assert survive_several.sum() < survive_single.sum()  # and here they fool more
    assert (several - x).abs().max() <= 0.2 + 1e-6 and several.min() >= 0 and several.max() <= 1
    with pytest.raises(ValueError, match="restarts"):
        pgd_restarts(linear_model, x, y, restarts=0, **options)


def test_feature_pgd_moves_features_within_the_ball_without_labels(fashion):
    torch.manual_seed(0)
    x = fashion[0][:32]
    encoder = SmallCNN().eval()
    encoder.classifier = nn.Identity()
    x_adv = feature_pgd(encoder, x, eps=0.05, alpha=0.01, steps=10)
    noise = (x + 0.05 * torch.randn_like(x).sign()).clamp(0, 1)
    with torch.no_grad():
        moved = (encoder(x_adv) - encoder(x)).norm(dim=1).mean()
        by_noise = (encoder(noise) - encoder(x)).norm(dim=1).mean()
    assert moved > 3 * by_noise, (moved, by_noise)
    assert (x_adv - x).abs().max() <= 0.05 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    with pytest.raises(ValueError, match="norm"):
        feature_pgd(encoder, x, eps=0.05, alpha=0.01, steps=1, norm="l1")
