#!/usr/bin/env bash
# The static checks, in the order they fail fastest: formatting, clippy with warnings as errors,
# unused dependencies (cargo machete), and the dependency policy in deny.toml (cargo deny:
# licenses, bans, sources, advisories). Run by .ci/run and `make lint`; installs cargo-machete
# and cargo-deny (pinned versions, `cargo install --locked`, kept in ~/.cargo/bin) when missing.
#
# Advisories need the RustSec advisory database, a git repository that cargo deny clones from
# GitHub. Where GitHub is out of reach (this project's machines reach only package registries),
# the check uses:
#   - ONECLASS_ADVISORY_DB when set: anything `git clone` accepts (a path or URL of a copy of
#     rustsec/advisory-db), cloned afresh into the place cargo deny reads;
#   - otherwise what `cargo deny fetch` clones or updates, or, when it cannot reach GitHub, the
#     copy an earlier run left under ~/.cargo/advisory-dbs;
#   - none of these: advisories are SKIPPED with a notice, and the other checks still ran.
# The database's date is printed, so a stale copy shows.
set -euo pipefail
cd "$(dirname "$0")/.."

MACHETE_VERSION=0.9.2
DENY_VERSION=0.20.2

# Installs `$1` at version `$2` unless that version is already on PATH.
install_tool() {
  local crate=$1 version=$2
  if ! "$crate" --version 2>/dev/null | grep -qF "$version"; then
    echo "== installing $crate $version" >&2
    env -u CARGO_TARGET_DIR cargo install --locked --quiet "$crate@$version"
  fi
}
install_tool cargo-machete "$MACHETE_VERSION"
install_tool cargo-deny "$DENY_VERSION"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo machete"
cargo machete
echo "== cargo deny (licenses, bans, sources)"
cargo deny --locked check --hide-inclusion-graph licenses bans sources

echo "== cargo deny (advisories)"
dbs="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if [[ -n ${ONECLASS_ADVISORY_DB:-} ]]; then
  # cargo deny names the directory it reads in its complaint when the database is missing.
  dir=$(cargo deny --locked --offline check advisories 2>&1 \
    | grep -o '/[^" ]*/advisory-dbs/advisory-db-[0-9a-f]*' | head -n1 || true)
  [[ -n $dir ]] || dir=$(ls -d "$dbs"/advisory-db-* 2>/dev/null | head -n1 || true)
  [[ -n $dir ]] || { echo "scripts/lint.sh: cannot tell where cargo deny keeps its database" >&2; exit 1; }
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  src=$ONECLASS_ADVISORY_DB
  [[ -d $src ]] && src="file://$(realpath "$src")" # a shallow clone needs a URL
  git clone --quiet --depth=1 --branch main "$src" "$dir"
else
  # Clones or updates the database; without GitHub this fails (or keeps an older copy).
  cargo deny fetch db >/dev/null 2>&1 || true
fi
if db=$(ls -d "$dbs"/advisory-db-*/.git 2>/dev/null | head -n1) && [[ -n $db ]]; then
  echo "advisory database ${db%/.git}, last changed $(git -C "${db%/.git}" show -s --format=%cs HEAD)"
  cargo deny --locked --offline check --hide-inclusion-graph advisories
else
  echo "SKIPPED: cargo deny check advisories (the RustSec database cannot be fetched here;" \
    "set ONECLASS_ADVISORY_DB to a copy of rustsec/advisory-db)"
fi
