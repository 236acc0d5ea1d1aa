#!/usr/bin/env bash
# Plays the web browser for a Keyway sign-in, for end-to-end tests and screenshots.
#
#   BROWSER=tests/support/scripted-browser.sh KEYWAY_TEST_USER=… KEYWAY_TEST_PASSWORD=… <app or CLI>
#
# Called with the authorize URL (as `$BROWSER <url>`): GETs it with a cookie jar, reads the hidden
# `csrf` and `request` fields of the hub's sign-in form, POSTs them with the username and password
# to the form's action (`/login`), follows the hub's redirects and finally GETs the loopback
# callback the client is listening on, or, when the client's redirect is not http (the desktop
# app's private-use scheme, `app.keyway.desktop:/oauth/callback?…`), hands that URL to the desktop
# with `xdg-open`, as a browser does. Logs to stderr; exits non-zero on any failure. With
# KEYWAY_TEST_SECRET_LEDGER set, appends the code it saw to that file.
set -euo pipefail

log() { printf 'scripted-browser: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

url=${1:-}
[[ -n $url ]] || fail "usage: $0 AUTHORIZE_URL"
user=${KEYWAY_TEST_USER:-}
password=${KEYWAY_TEST_PASSWORD:-}
[[ -n $user ]] || fail "KEYWAY_TEST_USER is not set"
[[ -n $password ]] || fail "KEYWAY_TEST_PASSWORD is not set"
command -v curl >/dev/null || fail "curl is not installed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jar=$work/cookies
curl_() { curl --silent --show-error --max-time 20 --cookie "$jar" --cookie-jar "$jar" "$@"; }

# scheme://host[:port] of a URL.
origin_of() { sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]+).*#\1#' <<<"$1"; }

# The value attribute of the <input> whose name is $1, HTML-unescaped.
field() {
  grep -o '<input[^>]*>' "$work/page.html" | grep "name=\"$1\"" | head -n 1 |
    sed -nE 's/.*value="([^"]*)".*/\1/p' |
    sed -e 's/&quot;/"/g' -e "s/&#x27;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}

# 1. The authorize URL, following redirects to the sign-in form.
log "GET ${url%%\?*}?…"
read -r status effective < <(curl_ --location --output "$work/page.html" \
  --write-out '%{http_code} %{url_effective}\n' "$url") || fail "could not fetch the authorize URL"
[[ $status == 200 ]] || fail "the authorize URL answered HTTP $status: $(head -c 400 "$work/page.html")"

csrf=$(field csrf)
request=$(field request)
[[ -n $csrf ]] || fail "no hidden csrf field in the sign-in page"
[[ -n $request ]] || fail "no hidden request field in the sign-in page"
hub=$(origin_of "$effective")
action=$(grep -o '<form[^>]*>' "$work/page.html" | head -n 1 | sed -nE 's/.*action="([^"]*)".*/\1/p')
case ${action:-/login} in
  http://* | https://*) post_url=$action ;;
  /*) post_url=$hub${action:-/login} ;;
  *) post_url=$hub/login ;;
esac

# 2. Sign in. Success is a redirect; a 200/4xx page is a refusal (its message is logged).
log "POST $post_url as $user"
# curl's %{redirect_url} rewrites a private-use scheme URI (`app.keyway.desktop:/x` becomes
# `app.keyway.desktop://x`), so the Location header is kept as sent too.
read -r status location raw < <(curl_ --output "$work/answer.html" \
  --write-out '%{http_code} %{redirect_url} %header{location}\n' \
  --data-urlencode "username=$user" --data-urlencode "password=$password" \
  --data-urlencode "csrf=$csrf" --data-urlencode "request=$request" \
  "$post_url") || fail "could not POST the sign-in form"
if [[ ! $status =~ ^30[1237]$ || -z ${location:-} ]]; then
  message=$(sed -nE 's/.*<p class="error"[^>]*>([^<]*)<.*/\1/p; s/.*<h1>([^<]*)<\/h1>.*/\1/p' "$work/answer.html" | head -n 2 | tr '\n' ' ')
  fail "sign-in was not accepted (HTTP $status): ${message:-$(head -c 400 "$work/answer.html")}"
fi

# 3. Follow the hub's own redirects (if any) until the client's loopback callback.
for _ in 1 2 3 4 5; do
  [[ $(origin_of "$location") == "$hub" ]] || break
  log "GET ${location%%\?*} (hub redirect)"
  read -r status location raw < <(curl_ --output "$work/answer.html" \
    --write-out '%{http_code} %{redirect_url} %header{location}\n' "$location") || fail "could not follow $location"
  [[ -n ${location:-} ]] || fail "the hub stopped redirecting (HTTP $status): $(head -c 400 "$work/answer.html")"
done

raw=${raw%$'\r'}

# Under `cargo xtask test`: the code in the answer goes to the secret ledger, for the scan that
# ends the run (tests/support's `ledger`, one JSON line). A code is base64url, safe in JSON as is.
if [[ -n ${KEYWAY_TEST_SECRET_LEDGER:-} ]]; then
  code=$(sed -nE 's/.*[?&]code=([^&#]*).*/\1/p' <<<"$raw")
  if [[ $code =~ ^[A-Za-z0-9_-]+$ ]]; then
    (umask 077 && printf '{"kind":"authorization_code","value":"%s"}\n' "$code" >>"$KEYWAY_TEST_SECRET_LEDGER")
  fi
fi

# 4a. A private-use scheme: the desktop starts the registered app with the URL. BROWSER is
# no-browser.sh, so that xdg-open never falls back to this script or to a real web browser.
if [[ ! $location =~ ^https?:// ]]; then
  command -v xdg-open >/dev/null || fail "xdg-open is not installed (apt install xdg-utils)"
  log "xdg-open ${raw%%\?*}?… (deep link)"
  timeout 60 env BROWSER="$(dirname "$0")/no-browser.sh" xdg-open "$raw" || fail "xdg-open could not hand over ${raw%%\?*}"
  log "done: handed the answer to the desktop"
  exit 0
fi

# 4b. The loopback callback: the client finishes the sign-in.
log "GET ${location%%\?*}?… (callback)"
status=$(curl_ --output "$work/callback.html" --write-out '%{http_code}' "$location") ||
  fail "could not reach the callback $location"
[[ $status == 200 ]] || fail "the callback answered HTTP $status: $(head -c 400 "$work/callback.html")"
log "done: the client accepted the callback"
