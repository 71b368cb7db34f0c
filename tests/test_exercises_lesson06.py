"""Each lesson-06 checker accepts the right answer and rejects plausible wrong ones."""

import torch
import torch.nn.functional as F

from course_utils.evaluation.multitask import task_losses
from course_utils.exercises import lesson06
from course_utils.training.gradients import pcgrad, project_conflicting, task_gradients


def test_checkers_never_raise_on_unfinished_answers():
    for exercise in lesson06.EXERCISES:
        assert exercise.check(...) is False
        assert exercise.check(lambda *args: None) is False


def right_loss(outputs, labels, weights):
    total = 0
    for column, (task, logits) in enumerate(outputs.items()):
        known = labels[:, column] != -1
        if known.any():
            total = total + weights[task] * F.cross_entropy(logits[known], labels[known, column])
    return total


def test_weighted_loss():
    assert lesson06.weighted_loss.check(right_loss)

    def ignores_weights(outputs, labels, weights):
        return right_loss(outputs, labels, {t: 1.0 for t in weights})

    def nan_for_a_task_without_labels(outputs, labels, weights):
        return sum(weights[t] * F.cross_entropy(o, labels[:, i], ignore_index=-1)
                   for i, (t, o) in enumerate(outputs.items()))

    def averages_over_the_whole_batch(outputs, labels, weights):
        return sum(weights[t] * F.cross_entropy(o, labels[:, i], ignore_index=-1, reduction="sum") / len(labels)
                   for i, (t, o) in enumerate(outputs.items()))

    def calls_the_course(outputs, labels, weights):
        return sum(weights[t] * loss for t, loss in task_losses(outputs, labels).items())

    for wrong in (ignores_weights, nan_for_a_task_without_labels, averages_over_the_whole_batch, calls_the_course):
        assert not lesson06.weighted_loss.check(wrong), wrong.__name__


def test_pcgrad_projection(capsys):
    assert lesson06.pcgrad_projection.check(lambda g, h: g - (g @ h) / (h @ h) * h if g @ h < 0 else g)
    assert not lesson06.pcgrad_projection.check(lambda g, h: g - (g @ h) / (h @ h) * h)  # always projects
    assert not lesson06.pcgrad_projection.check(lambda g, h: g - (g @ h) / h.norm() * h if g @ h < 0 else g)
    assert not lesson06.pcgrad_projection.check(lambda g, h: g)                           # never projects
    assert not lesson06.pcgrad_projection.check(project_conflicting)
    assert not lesson06.pcgrad_projection.check(lambda g, h: pcgrad({"g": g, "h": h}) - h)
    assert "write project_conflicting yourself" in capsys.readouterr().out


def test_settled_weight():
    assert lesson06.settled_weight.check(lambda L: 1 / (2 * L))
    assert not lesson06.settled_weight.check(lambda L: 1 / L)                      # forgot the 1/2
    assert not lesson06.settled_weight.check(lambda L: torch.log(torch.tensor(2 * L)).item())  # s, not exp(-s)


def right_cosine(model, x, labels):
    """Another correct way: backward() per task and read the shared parameters' .grad."""
    outputs = model(x)
    flat = []
    for column, logits in enumerate(outputs.values()):
        model.zero_grad()
        F.cross_entropy(logits, labels[:, column]).backward(retain_graph=True)
        flat.append(torch.cat([p.grad.reshape(-1).clone() for p in model.shared_parameters()]))
    return F.cosine_similarity(flat[0], flat[1], dim=0).item()


def test_task_cosine():
    assert lesson06.task_cosine.check(right_cosine)

    def includes_the_heads(model, x, labels):
        outputs = model(x)
        params = list(model.parameters())
        grads = []
        for column, logits in enumerate(outputs.values()):
            parts = torch.autograd.grad(F.cross_entropy(logits, labels[:, column]), params,
                                        retain_graph=True, allow_unused=True)
            grads.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                    for g, p in zip(parts, params)]))
        return float(grads[0] @ grads[1] / (grads[0].norm() * grads[1].norm()))

    def last_layer_only(model, x, labels):
        outputs = model(x)
        last = model.shared_parameters()[-3:]
        grads = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(
            F.cross_entropy(logits, labels[:, i]), last, retain_graph=True)]) for i, logits in enumerate(outputs.values())]
        return float(grads[0] @ grads[1] / (grads[0].norm() * grads[1].norm()))

    def calls_the_course(model, x, labels):
        outputs = model(x)
        terms = {t: F.cross_entropy(o, labels[:, i]) for i, (t, o) in enumerate(outputs.items())}
        grads = list(task_gradients(terms, model.shared_parameters()).values())
        return float(grads[0] @ grads[1] / (grads[0].norm() * grads[1].norm()))

    for wrong in (includes_the_heads, last_layer_only, calls_the_course):
        assert not lesson06.task_cosine.check(wrong), wrong.__name__
