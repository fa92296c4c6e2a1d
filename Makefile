# Two entry points, both working on a fresh machine with only Python 3.11+:
#   make demo   create the environment with the runtime dependencies only, compile the
#               renderer's kernels once (factory warmup), render a small dataset, validate
#               it, report on it, point at pictures
#   make test   create the environment with the test extra, run the whole test suite
#               (make test-unit: the fast part, tests/unit, no Ray and no servers;
#               make lint: ruff's linter and format check, which CI runs first)
#   make example  train a small depth network on samples streamed from an embedded
#               factory serve for 3 minutes (examples/train_depth.py; the torch extra)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out/demo

.PHONY: demo test test-unit lint format example env env-test env-torch bench serve clean pictures

env: $(VENV)/.runtime
env-test: $(VENV)/.test
env-torch: $(VENV)/.torch

# The runtime dependencies only: what `make demo` and a user of the library need.
$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

# The test extra on top (rtree for trimesh's ray caster, the independent check of the
# renderer's meshes; moto, hypothesis, kubernetes-validate).
$(VENV)/.test: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# PyTorch (the CPU build on the project's machines) for the example and the datasets.
$(VENV)/.torch: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[torch]'
	touch $@

demo: env
	$(VENV)/bin/factory warmup
	$(VENV)/bin/factory generate configs/quickstart.yaml --out $(OUT)/dataset --samples 16 --shard-size 8 --overwrite
	$(VENV)/bin/factory validate $(OUT)/dataset --result $(OUT)/validation.json --no-progress
	$(VENV)/bin/factory report $(OUT)/dataset --out $(OUT)/report
	$(VENV)/bin/factory render configs/quickstart.yaml --samples 16 --index 0 --index 1 --index 2 --index 3 --out $(OUT)/preview
	$(VENV)/bin/factory render configs/shapes.yaml --samples 10 --index 0 --index 2 --out $(OUT)/preview
	$(VENV)/bin/factory render configs/household.yaml --samples 200 --index 0 --index 2 --out $(OUT)/preview/household
	$(VENV)/bin/factory render configs/movi.yaml --samples 200 --index 1 --out $(OUT)/preview/movi
	$(VENV)/bin/factory render configs/deformables.yaml --samples 100 --index 2 --index 6 --index 9 --out $(OUT)/preview/deformables
	@echo
	@echo "shards:   $(OUT)/dataset/quickstart-000000.tar, -000001.tar (all listed in $(OUT)/dataset/manifest.json)"
	@echo "checked:  $(OUT)/validation.json (factory validate: every shard, sample and ground-truth invariant)"
	@echo "report:   $(OUT)/report/report.html and $(OUT)/report/DATASET_CARD.md"
	@echo "pictures: $(OUT)/preview/*.contact.png and $(OUT)/preview/*.preview.gif (samples 0-3 of those shards,"
	@echo "          and samples 0 and 2 of configs/shapes.yaml: triangle meshes, soft shadows);"
	@echo "          $(OUT)/preview/household/ and $(OUT)/preview/movi/: the starter pack's textured"
	@echo "          household objects and generated furniture, cups, gears, letters (configs/household.yaml, movi.yaml)"
	@echo "          $(OUT)/preview/deformables/: a curtain in the wind, a squashed cushion, water poured into a bowl"

# The README's picture (docs/images/contact_sheet.png), made again from the samples it
# shows; tests/unit/test_docs.py fails when the committed one is stale.
pictures: env
	$(VENV)/bin/factory warmup
	$(PY) docs/make_pictures.py

example: env-torch
	$(VENV)/bin/factory warmup
	$(PY) examples/train_depth.py

test: env-test
	$(VENV)/bin/factory warmup
	$(PY) -m pytest -q -n 2 --dist loadgroup tests/unit tests/integration

# ruff (pinned in the test extra; the rules in pyproject.toml): the linter and the format
# check, as CI runs them. make format rewrites the files the check would refuse.
lint: env-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test-unit: env-test
	$(VENV)/bin/factory warmup
	$(PY) -m pytest -q -n 2 tests/unit

bench: env-test
	$(PY) benchmarks/render.py
	$(PY) benchmarks/render_profile.py
	$(PY) benchmarks/encode.py
	$(PY) benchmarks/physics.py
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/loader.py
	$(PY) benchmarks/serve.py
	$(PY) benchmarks/validate.py
	$(PY) benchmarks/report.py
	$(PY) benchmarks/diversity.py
	$(PY) benchmarks/mix.py

# Asset packs from their sources (docs/cli.md#asset-packs), each downloaded once into
# $(SOURCES): Debian's sweethome3d-furniture 1.8-1 (five Sweet Home 3D libraries: CC0,
# CC-BY-3.0, CC-BY-3.0-US) and pybullet 3.2.7's random_urdfs (zlib; only that folder);
# `make assets` builds every pack into $(PACKS); `make starter-pack` rebuilds the
# committed factory/assets/starter (the CC0 objects of factory/assets/starter.ids).
# Convex pieces for collisions: CoACD for the starter pack (about 6 s of CPU an asset);
# the hull for the full libraries, where CoACD would take hours (docs/cli.md).
SOURCES ?= out/sources
PACKS ?= out/packs
SH3D := $(SOURCES)/sweethome3d/usr/share/sweethome3d/furniture
SH3D_LIBRARIES := BlendSwap-CC-0 BlendSwap-CC-BY KatorLegaz Reallusion Scopia

.PHONY: assets starter-pack

# The assets extra (CoACD, fast-simplification) on top of the runtime.
$(VENV)/.assets: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[assets]'
	touch $@

$(SH3D):
	mkdir -p $(SOURCES)/deb
	cd $(SOURCES)/deb && apt-get download sweethome3d-furniture=1.8-1
	dpkg-deb -x $(SOURCES)/deb/sweethome3d-furniture_1.8-1_all.deb $(SOURCES)/sweethome3d

$(SOURCES)/pybullet_data/random_urdfs:
	$(PY) -m pip download --quiet --no-deps --only-binary :all: pybullet==3.2.7 -d $(SOURCES)/wheels
	cd $(SOURCES) && unzip -q -o wheels/pybullet-3.2.7-*.whl 'pybullet_data/random_urdfs/*'

starter-pack: $(VENV)/.assets $(SH3D)
	rm -rf factory/assets/starter
	$(VENV)/bin/factory pack build --from sh3f $(SH3D)/BlendSwap-CC-0.sh3f --out factory/assets/starter \
		--name starter --max-faces 4000 --max-texture 256 --only @factory/assets/starter.ids --parts coacd

assets: $(VENV)/.assets $(SH3D) $(SOURCES)/pybullet_data/random_urdfs
	rm -rf $(PACKS) && mkdir -p $(PACKS)
	for lib in $(SH3D_LIBRARIES); do \
		$(VENV)/bin/factory pack build --from sh3f $(SH3D)/$$lib.sh3f --out $(PACKS)/$$lib --parts hull || exit 1; done
	$(VENV)/bin/factory pack build --from pybullet $(SOURCES)/pybullet_data/random_urdfs --out $(PACKS)/pybullet-blobs \
		--parts hull --skip-refused  # one of the 1,000 (168.obj) has NaN vertices

# Backdrops (equirectangular HDRIs, CC0): `make curated-backdrops` rebuilds the committed
# factory/assets/backdrops/curated (256x128, the ids of curated.ids; byte-identical from
# the same sources); `make backdrops` builds the full sets at their own sizes into $(PACKS).
BLENDER_DATA := $(SOURCES)/blender-data
PMNDRS := $(SOURCES)/npm/pmndrs-assets-1.7.0.tgz

.PHONY: backdrops curated-backdrops

# OpenEXR for reading the sources (the pinned OpenCV cannot).
$(VENV)/.hdri: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e '.[hdri]'
	touch $@

$(BLENDER_DATA):
	mkdir -p $(SOURCES)/deb
	cd $(SOURCES)/deb && apt-get download blender-data=3.4.1+dfsg-2
	dpkg-deb -x $(SOURCES)/deb/blender-data_3.4.1+dfsg-2_all.deb $(BLENDER_DATA)

$(PMNDRS):
	mkdir -p $(SOURCES)/npm
	cd $(SOURCES)/npm && npm pack @pmndrs/assets@1.7.0

curated-backdrops: $(VENV)/.hdri $(BLENDER_DATA) $(PMNDRS)
	rm -rf factory/assets/backdrops/curated
	$(VENV)/bin/factory backdrops build --from blender --from pmndrs $(BLENDER_DATA) $(PMNDRS) \
		--out factory/assets/backdrops/curated --name curated --width 256 --only @factory/assets/backdrops/curated.ids

backdrops: $(VENV)/.hdri $(BLENDER_DATA) $(PMNDRS)
	rm -rf $(PACKS)/backdrops-blender $(PACKS)/backdrops-pmndrs && mkdir -p $(PACKS)
	$(VENV)/bin/factory backdrops build --from blender $(BLENDER_DATA) --out $(PACKS)/backdrops-blender --width 1024
	$(VENV)/bin/factory backdrops build --from pmndrs $(PMNDRS) --out $(PACKS)/backdrops-pmndrs --width 512

# The HTTP endpoint on an embedded Ray, in the foreground (Ctrl-C stops it).
serve: env
	$(VENV)/bin/factory serve --config k8s/base/serve.yaml

clean:
	rm -rf $(VENV) out

# A local multi-node Ray cluster (a 0-CPU head and CLUSTER_WORKERS worker nodes of one
# CPU each) on free ports; prints the dashboard and the RAY_ADDRESS for `ray job submit`.
# cluster-down stops exactly those nodes (never `ray stop`). See cluster/README.md.
CLUSTER_STATE ?= out/cluster
CLUSTER_WORKERS ?= 2
CLUSTER_ARGS ?=

.PHONY: cluster-up cluster-down

cluster-up: env
	$(PY) cluster/local.py up --state $(CLUSTER_STATE) --workers $(CLUSTER_WORKERS) $(CLUSTER_ARGS)

cluster-down:
	$(PY) cluster/local.py down --state $(CLUSTER_STATE)
