.PHONY: run test lint bench

run:
	scripts/run

test:
	scripts/test

lint:
	scripts/check

bench:
	.venv/bin/python bench/bench_executor.py
	.venv/bin/python bench/bench_run.py
	.venv/bin/python bench/bench_grid.py
