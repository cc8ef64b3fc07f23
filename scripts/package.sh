#!/usr/bin/env bash
# Builds scry's Debian package and checks it: the file list, the Depends and
# Recommends fields, and that the binary unpacked into a scratch root
# (dpkg -x) runs and names the data files it found; then that a scry from
# `cargo install --path crates/scry` finds the same files.
#
#   bash scripts/package.sh        prints the path of the .deb
#
# Needs cargo-deb (installed here with `cargo install cargo-deb --locked`
# when missing) and dpkg-dev (dpkg-shlibdeps works out the Depends line).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
target=${CARGO_TARGET_DIR:-$PWD/target}

# The man page and completions, generated from the clap definition.
cargo run --locked --release -q -p scry --example scry-assets -- "$target/release/assets"
gzip -9nf "$target/release/assets/scry.1"    # Debian installs man pages compressed
deb=$(cargo deb --locked --strip -q -p scry --output "$target/debian/" | tail -n 1)
[[ -f $deb ]] || { echo "package.sh: cargo deb did not report a .deb (got \"$deb\")" >&2; exit 1; }

fail() { echo "package.sh: $deb: $*" >&2; exit 1; }

files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in \
    ./usr/bin/scry \
    ./usr/share/man/man1/scry.1.gz \
    ./usr/share/bash-completion/completions/scry \
    ./usr/share/zsh/vendor-completions/_scry \
    ./usr/share/fish/vendor_completions.d/scry.fish \
    ./usr/share/scry/README.md \
    ./usr/share/doc/scry/copyright; do
    grep -qxF "$path" <<<"$files" || fail "missing $path; it holds:"$'\n'"$files"
done
depends=$(dpkg-deb -f "$deb" Depends)
recommends=$(dpkg-deb -f "$deb" Recommends)
[[ $depends == *libpcap0.8* ]] || fail "Depends does not name libpcap0.8: $depends"
[[ $recommends == nmap-common ]] || fail "Recommends is \"$recommends\", not nmap-common"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
version=$(cd / && "$root/usr/bin/scry" --version)
expected_first="scry $(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')"
[[ $(head -n 1 <<<"$version") == "$expected_first" ]] || fail "--version says: $version"
for name in nmap-os-db nmap-services nmap-payloads; do
    line=$(grep -E "^  $name " <<<"$version") || fail "--version does not list $name: $version"
    if [[ -f /usr/share/nmap/$name ]]; then
        [[ $line == *" /usr/share/nmap/$name" ]] || fail "--version does not find /usr/share/nmap/$name: $line"
    fi
done
bash -n "$root/usr/share/bash-completion/completions/scry" || fail "the bash completion does not parse"
zcat "$root/usr/share/man/man1/scry.1.gz" | grep -q '^\.SH FILES' || fail "the man page has no FILES section"

# `cargo install` gives a scry that finds the same data from anywhere.
cargo install --locked --quiet --path crates/scry --root "$root/cargo-install"
installed=$(cd / && "$root/cargo-install/bin/scry" --version)
[[ $installed == "$version" ]] || fail "cargo install's scry --version differs: $installed"
echo "$deb"
