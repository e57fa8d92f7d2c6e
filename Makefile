# gridtonic: `make run` plays, `make test` runs the whole suite. Both install what is missing first
# (Debian/Ubuntu/Raspberry Pi OS): SuperCollider + sc3-plugins + JACK from apt, a venv, the package,
# compiled SynthDefs. Every step is skipped when already done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_RUN := supercollider-server supercollider-language sc3-plugins-server jackd2 python3-venv
# the browser page's tests drive headless Chromium; the grid's run against the real serialoscd, built
# from ../shared/peers/serialosc (its README lists what it needs)
APT_TEST := $(APT_RUN) chromium chromium-driver build-essential pkg-config liblo-dev libudev-dev libuv1-dev \
	libavahi-compat-libdnssd-dev
SERIALOSC_KIT := ../shared/peers/serialosc
SERIALOSC := build/serialosc/bin/serialoscd
DEFS := build/synthdefs/.stamp
ARGS ?=

.PHONY: run test setup system system-test apt-install lint bench prior clean

run: setup
	$(BIN)/gridtonic run $(ARGS)

test: system-test setup $(SERIALOSC)
	$(BIN)/ruff check gridtonic tests bench
	$(BIN)/pytest -q -rs

setup: system $(VENV)/.installed $(DEFS)

# apt only when something is missing; --no-install-recommends keeps Qt's extras out.
system:
	@$(MAKE) -s apt-install PKGS="$(APT_RUN)"

system-test:
	@$(MAKE) -s apt-install PKGS="$(APT_TEST)"

apt-install:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  command -v apt-get >/dev/null || { echo "gridtonic: please install:$$missing (no apt-get here)"; exit 1; }; \
	  echo "gridtonic: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  echo "jackd2 jackd/tweak_rt_limits boolean false" | $(SUDO) debconf-set-selections && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e ".[test]"
	touch $@

$(DEFS): engine/supertonic.scd engine/mixer.scd engine/build.scd gridtonic/sound/synthdefs.py $(VENV)/.installed
	$(BIN)/python -m gridtonic.sound.synthdefs build/synthdefs
	touch $@

# the real serialosc daemon for the grid tests (skipped, with the reason, where ../shared is absent)
$(SERIALOSC):
	@if [ -d $(SERIALOSC_KIT) ]; then bash $(SERIALOSC_KIT)/build.sh build/serialosc; \
	else echo "gridtonic: no $(SERIALOSC_KIT): the real-serialosc grid tests will skip"; fi

lint: $(VENV)/.installed
	$(BIN)/ruff check gridtonic tests bench

# The shipped introspection prior (counts and groove), rebuilt from the Groove MIDI Dataset's train
# split in ../shared; tests/test_sampler.py checks the shipped file's checksum is this build's.
PRIOR := gridtonic/prior/data/prior.sqlite
GMD := ../shared/corpus/groove-midi-dataset
prior: $(VENV)/.installed
	@[ -f $(GMD)/info.csv ] || { echo "gridtonic: no $(GMD): cannot rebuild the prior"; exit 1; }
	$(BIN)/gridtonic prior build $(GMD) --split train -o $(PRIOR)
	chmod 644 $(PRIOR)
	$(BIN)/gridtonic prior info $(PRIOR) | tail -1

bench: setup
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf build $(VENV)
