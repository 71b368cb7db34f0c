# Two commands on a fresh machine:
#   make lab    create .venv, install the course, prepare the offline kit, open JupyterLab
#   make test   same set-up, then lint, unit tests, and every notebook in fast mode: the lessons
#               with widgets in JupyterLab in a real browser (their widgets used and timed), the
#               others under nbval; without a browser, every notebook under nbval
# Each target runs `python -m course_utils <task>` (course_utils/tasks.py), which works without
# make too, e.g. on Windows: .venv\Scripts\python -m course_utils lab

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The pair of torch/torchvision releases the course is tested with (see constraints.txt).
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
# MedMNIST: a local mirror of the official files when one sits beside the checkout.
MEDMNIST_MIRROR := $(abspath ../shared/data/medmnist)
export MEDMNIST_DIR ?= $(if $(wildcard $(MEDMNIST_MIRROR)/*.npz),$(MEDMNIST_MIRROR),)
export TQDM_DISABLE ?= 1
export MPLBACKEND ?= Agg

.PHONY: lab demo test lint unit unit-avx2 notebooks notebooks-full browser kit benchmarks gpu-check clean strip

$(STAMP): pyproject.toml constraints.txt
	@# A .venv without pip is half-made (Debian/Ubuntu without python3-venv): remove it and say why.
	@if ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		rm -rf $(VENV); \
		$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip --version >/dev/null 2>&1 || { \
			rm -rf $(VENV); \
			echo "Could not create a virtual environment with pip in $(VENV)."; \
			echo "On Debian/Ubuntu: sudo apt-get install python3-venv   then run make again."; \
			exit 1; }; \
	fi
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e ".[dev]"
	touch $@

kit: $(STAMP)
	$(BIN)/python -m course_utils kit

# JupyterLab on the notebooks (with --allow-root when run as root, as in many containers)
lab: $(STAMP)
	$(BIN)/python -m course_utils lab

# A classroom demo: one lesson's widgets as a page without code (Voila), e.g. make demo LESSON=04
# (fast mode, so the page is ready sooner; add DEMO_OPTIONS=--full for the learner's version)
LESSON ?= 04
demo: $(STAMP)
	$(BIN)/python -m course_utils demo $(LESSON) $(DEMO_OPTIONS)

lint: $(STAMP)
	$(BIN)/python -m course_utils lint

unit: $(STAMP)
	$(BIN)/python -m course_utils unit

# The unit tests with the kernels an AVX2-only processor gets (PyTorch and oneDNN), as many
# learners' laptops have: results differ in the last bits, so a knife-edge threshold shows here.
unit-avx2: $(STAMP)
	$(BIN)/python -m course_utils unit --cpu-capability avx2

# Fast mode under nbval: every lesson, or, when a browser is installed, the lessons `browser`
# does not run (course_utils.classroom.nbval_notebooks says which).
notebooks: $(STAMP)
	$(BIN)/python -m course_utils notebooks

# The lessons with widgets, run in fast mode in JupyterLab (started as `make lab` starts it) in
# Chromium; each widget is used and timed, and `make demo`'s Voila page is checked. Skips with a
# message where no Chromium is installed (Debian/Ubuntu: apt-get install chromium).
browser: $(STAMP)
	$(BIN)/python -m course_utils browser

test: $(STAMP)
	$(BIN)/python -m course_utils test

# Every lesson in full mode, the version a learner runs, under nbval, one process per notebook,
# with a table of times at the end (.ci/run calls it after `make test`; about 40 minutes on 2 cores).
notebooks-full: $(STAMP) kit
	$(BIN)/python -m course_utils notebooks-full

benchmarks: $(STAMP)
	$(BIN)/python -m benchmarks.bench_fit_overhead
	$(BIN)/python -m benchmarks.bench_loader
	$(BIN)/python -m benchmarks.bench_cached_features
	$(BIN)/python -m benchmarks.bench_channels_last

# On a CUDA machine, everything the course runs there: the GPU unit tests, the GPU benchmarks
# (bf16 + channels_last fit, the Fashion-MNIST speedrun to 93%, Lite0 throughput as a share of
# the card's bf16 peak), then every notebook under nbval in fast and in full mode with each
# notebook's time. A failing step does not stop the later ones; the target fails at the end.
# A machine with its own ready Python (no venv): make gpu-check GPU_PY=python3 GPU_DEPS=
GPU_PY ?= $(BIN)/python
GPU_DEPS ?= $(STAMP)
gpu-check: $(GPU_DEPS)
	$(GPU_PY) -c "import torch; assert torch.cuda.is_available(), 'gpu-check needs a CUDA GPU'; print(torch.cuda.get_device_name(0))"
	failed=; \
	$(GPU_PY) -m pytest -q -m gpu tests || failed="$$failed gpu-tests"; \
	$(GPU_PY) -m benchmarks.bench_gpu || failed="$$failed bench_gpu"; \
	$(GPU_PY) -m benchmarks.bench_fashion_speedrun --compile --epochs 6,8,10,12 --seeds 3 \
		|| failed="$$failed bench_fashion_speedrun"; \
	$(GPU_PY) -m benchmarks.bench_lite0_throughput || failed="$$failed bench_lite0_throughput"; \
	$(GPU_PY) -m benchmarks.run_notebooks --mode both || failed="$$failed notebooks"; \
	test -z "$$failed" || { echo "gpu-check failed:$$failed"; exit 1; }

strip:
	$(BIN)/nbstripout notebooks/*.ipynb

clean:
	rm -rf $(VENV) data/cache .pytest_cache

# Lesson 08's web service on a predictor artefact (default: lesson 07's), http://127.0.0.1:8000
ARTEFACT ?= data/artefacts/pneumoniamnist-v1.0.0.pt
PORT ?= 8000
.PHONY: serve
serve: $(STAMP)
	$(BIN)/python -m course_utils.deployment.service --artefact $(ARTEFACT) --port $(PORT)
