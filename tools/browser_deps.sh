#!/usr/bin/env bash
# Makes sure the browser tests (tests/test_browser.py) have what they need, run by `make test`:
#   - Debian's chromium (Playwright drives it; `playwright install` needs the internet),
#   - a CJK font (fonts-noto-cjk), or Chinese pages render as boxes in the screenshots.
# (axe-core comes with the Python package axe-playwright-python, in requirements.txt.)
# As root on Debian it installs what is missing; otherwise it fails, printing the commands to run.
set -euo pipefail
cd "$(dirname "$0")/.."

# CHROMIUM names another Chromium-based browser to use instead (GitHub's hosted runners have
# Google Chrome, and run as a user who cannot apt-get without sudo; see .github/workflows/ci.yml).
have_chromium() { command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; }
have_cjk_font() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }

packages=()
have_chromium || packages+=(chromium)
have_cjk_font || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "browser_deps: installing ${packages[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}" >/dev/null
fi
if ! have_chromium || ! have_cjk_font; then
    cat >&2 <<MSG
browser_deps: the browser tests need Debian's chromium and a CJK font (fonts-noto-cjk).
Install them, then run make test again:
    sudo apt-get update && sudo apt-get install -y chromium fonts-noto-cjk
(Elsewhere: a Chromium on PATH as \`chromium\`, and any font that fc-list :lang=zh shows.
Do not use \`playwright install\`: the tests run Debian's chromium.)
MSG
    exit 1
fi
