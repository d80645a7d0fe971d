# Shortcuts for the two README commands; scripts/dev.py does the work (no make needed).
.PHONY: run test

run:
	python3 scripts/dev.py run

test:
	python3 scripts/dev.py test $(ARGS)
