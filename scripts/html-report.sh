#!/usr/bin/env bash
# Renders scry's nmap XML (-oX) as nmap's HTML report, and optionally takes
# a screenshot of it in headless Chromium to look at the page as a person
# would.
#
#   scripts/html-report.sh SCAN.xml OUT.html [OUT.png]
#
# Needs xsltproc and nmap's stylesheet (Debian: xsltproc, nmap); the
# screenshot needs chromium. Nothing is fetched: the report is a local file.
set -euo pipefail

die() { echo "html-report: $*" >&2; exit 1; }

[[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 SCAN.xml OUT.html [OUT.png]"
xml=$1 html=$2 png=${3:-}
xsl=/usr/share/nmap/nmap.xsl
[[ -r $xml ]] || die "cannot read $xml"
[[ -r $xsl ]] || die "nmap's stylesheet $xsl is missing (apt-get install nmap)"
command -v xsltproc >/dev/null || die "xsltproc is missing (apt-get install xsltproc)"

xsltproc -o "$html" "$xsl" "$xml"
grep -q '<table id="porttable_' "$html" || die "$html has no port table"
echo "html-report: wrote $html"

if [[ -n $png ]]; then
    browser=$(command -v chromium || command -v chromium-browser || true)
    [[ -n $browser ]] || die "chromium is missing (apt-get install chromium)"
    # --no-sandbox: root cannot use Chromium's sandbox; the page is our own file.
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size=1280,1600 --screenshot="$png" "file://$(realpath "$html")" 2>/dev/null
    [[ -s $png ]] || die "chromium wrote no screenshot"
    echo "html-report: wrote $png"
fi
