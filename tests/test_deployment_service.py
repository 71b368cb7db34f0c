"""The web service, started with its one command in a child process and called over real HTTP."""

import httpx
import pytest

from course_utils.deployment.service import serve_in_background
from tests.deployment_helpers import needs_pneumonia, png_bytes, splits, trained_predictor

pytestmark = [needs_pneumonia, pytest.mark.slow]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    predictor = trained_predictor()
    artefact = predictor.save(tmp_path_factory.mktemp("service") / "model.pt")
    with serve_in_background(artefact) as url:
        yield predictor, url


def test_health_and_form(service):
    predictor, url = service
    health = httpx.get(f"{url}/health").json()
    assert health == {"status": "ok", "version": predictor.version, "classes": predictor.classes}
    assert 'name="file"' in httpx.get(url).text


def test_predict_an_uploaded_x_ray(service):
    predictor, url = service
    test = splits()["test"]
    for i in range(3):
        data = png_bytes(test.images[i])
        answer = httpx.post(f"{url}/predict", files={"file": (f"case_{i}.png", data, "image/png")}, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        local = predictor.predict(data)
        assert body["version"] == predictor.version and body["source"] == f"case_{i}.png"
        assert body["label"] == local.label and body["threshold"] == pytest.approx(predictor.threshold)
        probabilities = [entry["probability"] for entry in body["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) == pytest.approx(1)
        for entry in body["top"]:
            assert entry["probability"] == pytest.approx(local.probabilities[entry["class"]], abs=1e-5)


def test_bad_uploads_get_clear_4xx_errors(service):
    _, url = service
    good = png_bytes(splits()["test"].images[0])
    cases = {
        "notes.png": (b"not an image at all", 415, "notes.png: is not an image"),
        "half.png": (good[: len(good) // 2], 422, "half.png: is truncated or corrupt"),
        "thumb.png": (png_bytes(splits()["test"].images[0][:, :10, :10]), 422, "thumb.png: is 10x10 pixels"),
        "empty.png": (b"", 400, "empty.png: is empty"),
    }
    for name, (data, status, message) in cases.items():
        answer = httpx.post(f"{url}/predict", files={"file": (name, data, "image/png")}, timeout=60)
        assert answer.status_code == status, (name, answer.text)
        assert message in answer.json()["detail"]
    missing = httpx.post(f"{url}/predict", data={"image": "x"}, timeout=60)
    assert missing.status_code == 422 and "field 'file'" in missing.json()["detail"]
    assert httpx.get(f"{url}/predict").status_code == 405


def test_a_server_that_cannot_start_reports_why(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(RuntimeError, match="junk.pt is not a readable checkpoint"):
        with serve_in_background(tmp_path / "junk.pt", timeout=120):
            pass
