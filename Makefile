# sensorbench: `make bench` and `make test` do all set-up on a fresh Debian machine.
# Set-up steps are stamped so that repeated runs are quick.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.stamp
APT_STAMP := $(VENV)/.apt-stamp

# System packages: compiler for the workload helper, clang/libbpf/bpftool for the eBPF
# sensor, the third-party sensors we compare with, and tools the tests use.
DEB_PACKAGES := build-essential clang llvm libbpf-dev libbpf1 bpftool libelf-dev zlib1g-dev \
	python3-venv auditd bpftrace libbpf-tools fatrace forkstat inotify-tools stress-ng chromium \
	curl

BENCH_ARGS ?=
PYTEST_ARGS ?=

.PHONY: all setup system-packages native bench test lint calibrate mutation floors clean

all: setup

# The host's audit daemon is its security service: set-up never stops or disables one that
# was there before. Installing the auditd package (for the `auditd` backend, which starts
# an instance of its own) may start the daemon; that instance, which we started, is
# stopped again and kept from starting at boot, so that the audit backends find the audit
# socket free.
$(APT_STAMP):
	@mkdir -p $(VENV)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
		if [ -n "$$missing" ]; then \
			auditd_before=$$(pidof auditd || true); \
			echo "installing system packages:" $$missing; \
			apt-get update -qq; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				$$missing >/dev/null 2>&1 || \
			for p in $$missing; do \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
					--no-install-recommends $$p >/dev/null 2>&1 || \
				echo "warning: $$p did not install; doctor will say what it is needed for"; \
			done; \
			case " $$(echo $$missing) " in *" auditd "*) \
				if [ -z "$$auditd_before" ] && pidof auditd >/dev/null; then \
					echo "stopping the auditd that installing its package started"; \
					systemctl disable --now auditd >/dev/null 2>&1 || \
						service auditd stop >/dev/null 2>&1 || true; \
				fi;; \
			esac; \
		fi; \
	else \
		echo "not root (or no apt-get): skipping system packages; doctor says what is missing"; \
	fi
	@touch $@

system-packages: $(APT_STAMP)

$(STAMP): pyproject.toml $(APT_STAMP)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# Native code: the workload helper, and each backend that has a Makefile of its own
# (the eBPF sensor's BPF object is compiled there, never committed).
# The counted truth's BPF object (bench/harness/counter) after them: it loads through the
# eBPF backend's libbpf shim.
BACKEND_MAKEFILES := $(wildcard bench/backends/*/Makefile) bench/harness/counter/Makefile

native: $(STAMP) workloads/native/sb-child workloads/native/sb-load
	@for m in $(BACKEND_MAKEFILES); do $(MAKE) --no-print-directory -C $$(dirname $$m) || exit 1; done

# The process workload's child: without a C library where we can (x86-64; exec of a few
# kilobytes is most of a spawn's cost), else static, else dynamic glibc.
NOLIBC_FLAGS := -DSB_NOLIBC -nostdlib -static -no-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -s
workloads/native/sb-child: workloads/native/sb-child.c
	$(CC) -O2 $(NOLIBC_FLAGS) -o $@ $< 2>/dev/null || $(CC) -O2 -static -o $@ $< 2>/dev/null \
		|| $(CC) -O2 -o $@ $<

# The native workload engine. -ffp-contract=off: the schedule's floating-point steps must
# be Python's, with no fused multiply-add.
LOAD_SRC := $(addprefix workloads/native/,sb-load.c ledger.c pacing.c load_file.c \
	load_proc.c load_net.c)
workloads/native/sb-load: $(LOAD_SRC) workloads/native/sb-load.h
	$(CC) -O2 -Wall -ffp-contract=off -pthread -o $@ $(LOAD_SRC) -lm

setup: $(STAMP) native

bench: setup
	$(VENV)/bin/sensorbench run $(BENCH_ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# The lint (pyproject's [tool.ruff]): needs the venv only, so .ci/run runs it first.
lint: $(STAMP)
	$(PY) -m ruff check bench tests workloads

# The kept check of the overhead method on this machine (about 30 minutes, as root): A/A
# null sensor and injected costs, 20 runs each; exit 1 when coverage or bias falls short.
CALIBRATE_ARGS ?=
calibrate: setup
	$(VENV)/bin/sensorbench calibrate $(CALIBRATE_ARGS)

# The kept check of the unit suite (not part of `make test`; about an hour on 2 cores):
# mutmut changes the analysis and results layers one small change at a time (pyproject's
# [tool.mutmut]) and runs the unit tests that reach each change; a change no test notices
# survives. Writes the score and every survivor to results/mutation/; exit 1 when the score
# is below MUTATION_FLOOR (a fraction).
MUTATION_FLOOR ?= 0.85
MUTATION_OUT ?= results/mutation
MUTATION_STAMP := $(VENV)/.mutation-stamp

$(MUTATION_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e '.[test,mutation]'
	@touch $@

mutation: setup $(MUTATION_STAMP)
	rm -rf mutants && mkdir mutants
	$(VENV)/bin/mutmut run --max-children $$(nproc) > mutants/run.log 2>&1 || \
		{ tr '\r' '\n' < mutants/run.log | tail -n 40; exit 1; }
	@tr '\r' '\n' < mutants/run.log | tail -n 2
	$(PY) -m tests.mutation.report --floor $(MUTATION_FLOOR) --out $(MUTATION_OUT)

# The dependency floors hold: the lowest versions pyproject.toml allows (tests/floors.py),
# installed together in a venv of their own, pass the unit suite and one short run with
# its report (the store's Parquet, the charts, the CLI). In .ci/run after `make test`.
FLOORS_VENV := .venv-floors
floors: native
	rm -rf $(FLOORS_VENV) && $(PYTHON) -m venv $(FLOORS_VENV)
	$(PY) -m tests.floors test > $(FLOORS_VENV)/floors.txt
	$(FLOORS_VENV)/bin/python -m pip install -q -e '.[test]' -c $(FLOORS_VENV)/floors.txt
	@echo "installed:" $$($(FLOORS_VENV)/bin/python -m pip list --format=freeze | grep -i -E \
		"^($$(sed 's/==.*//' $(FLOORS_VENV)/floors.txt | paste -sd'|'))==")
	$(FLOORS_VENV)/bin/python -m pytest tests/unit -q -p no:cacheprovider
	rm -rf $(FLOORS_VENV)/run && $(FLOORS_VENV)/bin/sensorbench run -b synthetic -w file,network \
		-r 500 -d 0.3 -n 2 --out $(FLOORS_VENV)/run
	test -s $(FLOORS_VENV)/run/events.parquet && test -s $(FLOORS_VENV)/run/report.html

clean:
	rm -rf $(VENV) $(FLOORS_VENV) workloads/native/sb-child workloads/native/sb-load .pytest_cache mutants .hypothesis

# The published reference run: every backend available here, a fine search of each one's max
# sustainable rate per workload (10 % resolution, 3 paired blocks a probe, 3 more at the
# highest rate kept up with for the total cost),
# into results/reference/ (report, charts, cells.csv; per-event files stay out of git) and
# results/README.md. Run as root so the kernel-mode and audit backends can take part.
# Besides every backend with its defaults, the controls (null_sensor, injected_cost) and the
# settings that move results most: waking the consumer per record and one tracepoint per
# syscall (ebpf's earlier defaults), the in-kernel cgroup filter (ebpf), our user-mode
# consumers' Python reference parsers (parser=python), a short poll (psutil).
REFERENCE_BACKENDS ?= synthetic,null_sensor,injected_cost,psutil,psutil:interval_ms=10,ebpf,\
	ebpf:wakeup=event,ebpf:syscalls=tracepoint,ebpf:filter=cgroup,audit,audit:parser=python,\
	fanotify,fanotify:parser=python,inotify,inotify:parser=python,proc_connector,\
	proc_connector:parser=python,bpftrace,execsnoop,exitsnoop,opensnoop,auditd,fatrace,forkstat,\
	inotifywait
# --overhead-limit 1000: the reference asks where each sensor stops keeping up. A native
# file operation takes 5-10 µs, so a sensor that adds 20 µs to each (audit) crosses the
# default 100 % at any rate; overhead is published beside the capacity as a cost.
# The workloads at what this 2-core machine can offer: a thread per CPU, the file workload
# on a tmpfs (ext4's journal caps it below most file sensors' limits), children that exit
# at once (lifetime_ms=0: a child's 2 ms of sleep only holds a pid, and spawns go about a
# sixth faster without it). 6 cost blocks at each search's highest kept rate narrow the
# total cost's interval there (9 blocks with the probe's own 3).
REFERENCE_WORKLOADS ?= file:threads=2,process:threads=2,lifetime_ms=0,network:threads=2
REFERENCE_ARGS ?= -b '$(REFERENCE_BACKENDS)' -w '$(REFERENCE_WORKLOADS)' --tmpfs \
	-r search:cost_blocks=6 -d 1 -n 3 --overhead-limit 1000

# The published bursts: every backend with its defaults, and synthetic:capacity=5000 as
# the arm whose burst loss is known (half of a 20,000/s burst), at 1000 ops/s with a burst
# of 100 ms in every second, to 20,000 ops/s on file and network and 3,000 spawns/s on
# process (what the generator can offer there), into results/bursts/ with its own
# README.md (about 6 minutes).
BURSTS_BACKENDS ?= synthetic:capacity=5000,psutil,ebpf,audit,fanotify,inotify,proc_connector,\
	bpftrace,execsnoop,exitsnoop,opensnoop,auditd,fatrace,forkstat,inotifywait
BURSTS_ARGS ?= -b '$(BURSTS_BACKENDS)' -r 1000 -d 2 -n 2 --no-report
BURSTS_ON_OFF := burst:on_ms=100,off_ms=900

# The published failure scenarios: every fault on the reference sensors and the peers it
# applies to, plus the settings that decide the outcome (audit's backlog wait with small
# queues; consumers that trust a content update's header), then a --canary run of the
# bad update. Into results/scenarios/ with its own README.md (as root, about 20 minutes).
SCENARIO_BACKENDS ?= ebpf,audit,fanotify,inotify,proc_connector,bpftrace,auditd,fatrace,\
	forkstat,inotifywait,execsnoop,opensnoop
SCENARIO_VARIANTS ?= audit:backlog_limit=64,rcvbuf_kb=16,\
	audit:backlog_limit=64,rcvbuf_kb=16,backlog_wait_time=0,fanotify:unsafe_update=1,\
	inotify:unsafe_update=1,proc_connector:unsafe_update=1
SCENARIO_ARGS ?= -d 6 --at 1.5 --for 2

.PHONY: reference-scenarios
reference-scenarios: setup
	rm -rf results/scenarios.tmp
	$(VENV)/bin/sensorbench scenario crash,stall,bad-update,tamper \
		-b '$(SCENARIO_BACKENDS)' $(SCENARIO_ARGS) --no-report --out results/scenarios.tmp/main
	$(VENV)/bin/sensorbench scenario stall,bad-update -b '$(SCENARIO_VARIANTS)' \
		$(SCENARIO_ARGS) --no-report --out results/scenarios.tmp/variants
	$(VENV)/bin/sensorbench scenario bad-update --canary -b '$(SCENARIO_VARIANTS),ebpf' \
		$(SCENARIO_ARGS) --no-report --out results/scenarios.tmp/canary
	$(VENV)/bin/sensorbench merge results/scenarios.tmp/main results/scenarios.tmp/variants \
		results/scenarios.tmp/canary --out results/scenarios.tmp/all
	rm -rf results/scenarios && mv results/scenarios.tmp/all results/scenarios \
		&& rm -rf results/scenarios.tmp
	$(VENV)/bin/sensorbench report results/scenarios --markdown results/scenarios/README.md \
		--command "make reference-scenarios"

# The published applications: every recipe under every sensor available here (with its
# defaults) and the A/A control (null_sensor: its impact must hold zero), 4 paired blocks
# each, the work directory on a tmpfs (ext4's write-back otherwise moves a recipe's wall
# time by tens of %), into results/applications/ with its own README.md (about 40 min).
# The calibration arms that replay the ledger or inject a cost per synthetic operation
# (synthetic, injected_cost) have no truth to offer a real program and are left out.
APPS_BACKENDS ?= null_sensor,psutil,ebpf,audit,fanotify,inotify,proc_connector,bpftrace,\
	execsnoop,exitsnoop,opensnoop,auditd,fatrace,forkstat,inotifywait
# Scales that make each recipe take about 0.5-2 s here (a recipe of tens of ms times its
# start-up more than its work).
APPS_WORKLOADS ?= copy,archive,build:scale=3,find:scale=4,install,launch,download:scale=10,\
	stress-ng,cmd:argv=sh -c "ls -lR /usr/share > listing.txt && gzip listing.txt"
APPS_ARGS ?= -b '$(APPS_BACKENDS)' -w '$(APPS_WORKLOADS)' --tmpfs -n 4

.PHONY: reference reference-bursts reference-applications
reference-applications: setup
	rm -rf results/applications.tmp
	$(VENV)/bin/sensorbench run $(APPS_ARGS) --no-report --out results/applications.tmp
	rm -rf results/applications && mv results/applications.tmp results/applications
	$(VENV)/bin/sensorbench report results/applications \
		--markdown results/applications/README.md --command "make reference-applications"

reference-bursts: setup
	rm -rf results/bursts.tmp
	$(VENV)/bin/sensorbench run $(BURSTS_ARGS) -w file,network \
		--arrivals $(BURSTS_ON_OFF),peak=20000 --out results/bursts.tmp/fn
	$(VENV)/bin/sensorbench run $(BURSTS_ARGS) -w process \
		--arrivals $(BURSTS_ON_OFF),peak=3000 --out results/bursts.tmp/p
	$(VENV)/bin/sensorbench merge results/bursts.tmp/fn results/bursts.tmp/p \
		--out results/bursts.tmp/all
	rm -rf results/bursts && mv results/bursts.tmp/all results/bursts && rm -rf results/bursts.tmp
	$(VENV)/bin/sensorbench report results/bursts --markdown results/bursts/README.md \
		--command "make reference-bursts"

reference: setup
	rm -rf results/reference.tmp
	$(VENV)/bin/sensorbench run $(REFERENCE_ARGS) --no-report --out results/reference.tmp
	rm -rf results/reference && mv results/reference.tmp results/reference
	$(VENV)/bin/sensorbench report results/reference --markdown results/README.md \
		--command "make reference"
