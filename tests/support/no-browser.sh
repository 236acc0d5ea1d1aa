#!/usr/bin/env sh
# The BROWSER for `xdg-open` calls in tests: xdg-open only uses it when it found no handler for
# the URL (or the handler failed), and would otherwise try every web browser it knows of, which
# on a machine with one installed opens a real browser that never returns. Says so and fails.
echo "no-browser: xdg-open found no handler for $* and fell back to a browser" >&2
exit 3
