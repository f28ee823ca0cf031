#!/bin/sh
# Public item count of ntk-engine, from the HTML of `cargo doc -p ntk-engine --no-deps`:
# item pages (struct/enum/fn/trait/type/constant/static/macro), module pages, the inherent
# methods (and a trait's required/provided methods), pub fields and enum variants.
# Redirect pages (rustdoc's `http-equiv="refresh"` stubs) are not items and are skipped.
# Usage: scripts/api-count.sh [DOC_DIR]   (default: $CARGO_TARGET_DIR/doc/ntk_engine,
# built first when DOC_DIR is not given).
set -eu
if [ $# -eq 0 ]; then
  cargo doc -p ntk-engine --no-deps --quiet
  D=${CARGO_TARGET_DIR:-target}/doc/ntk_engine
else
  D=$1
fi
real=$(mktemp)
trap 'rm -f "$real"' EXIT
find "$D" -name '*.html' | while read -r f; do
  grep -q 'http-equiv="refresh"' "$f" || echo "$f"
done > "$real"
pages=$(sed 's#.*/##' "$real" | grep -cE '^(struct|enum|fn|trait|type|constant|static|macro)\.' || true)
mods=$(grep -c '/index.html$' "$real" || true)
methods=0
for f in $(grep -E '/(struct|enum|trait)\.[^/]*\.html$' "$real"); do
  n=$(sed 's/id="trait-implementations"/\nTRAITIMPLS\n/' "$f" | sed '/^TRAITIMPLS$/q' \
    | grep -oE 'id="(method|tymethod)\.[A-Za-z0-9_]+"' | sort -u | wc -l)
  methods=$((methods + n))
done
fields=$(grep -E '/struct\.[^/]*\.html$' "$real" | xargs cat | grep -oE 'id="structfield\.[A-Za-z0-9_]+"' | wc -l)
variants=$(grep -E '/enum\.[^/]*\.html$' "$real" | xargs cat | grep -oE 'id="variant\.[A-Za-z0-9_]+"' | wc -l)
echo "item pages $pages, modules $mods, inherent methods $methods, fields $fields, variants $variants, total $((pages + mods + methods + fields + variants))"
