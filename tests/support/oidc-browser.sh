#!/usr/bin/env bash
# Plays the web browser for a sign-in at oidc-provider (the OpenID provider of the tests,
# crates/hub/tests/sso/provider.mjs), for end-to-end tests.
#
#   BROWSER=tests/support/oidc-browser.sh KEYWAY_TEST_USER=… <CLI>
#
# Called with the authorize URL (as `$BROWSER <url>`): GETs it with a cookie jar and follows the
# provider's redirects; on its devInteractions login form it signs in as $KEYWAY_TEST_USER (the
# login names the account; any password), on its consent form it presses Continue, until the
# provider redirects elsewhere: that is the client's loopback callback, which it GETs last.
# Logs to stderr; exits non-zero on any failure.
set -euo pipefail

log() { printf 'oidc-browser: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

url=${1:-}
[[ -n $url ]] || fail "usage: $0 AUTHORIZE_URL"
user=${KEYWAY_TEST_USER:-}
[[ -n $user ]] || fail "KEYWAY_TEST_USER is not set"
command -v curl >/dev/null || fail "curl is not installed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jar=$work/cookies
curl_() { curl --silent --show-error --max-time 20 --cookie "$jar" --cookie-jar "$jar" "$@"; }

# scheme://host[:port] of a URL.
origin_of() { sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]+).*#\1#' <<<"$1"; }
provider=$(origin_of "$url")

# The action of the page's first form, as an absolute URL.
form_action() {
  local action
  action=$(grep -o '<form[^>]*>' "$work/page.html" | head -n 1 | sed -nE 's/.*action="([^"]*)".*/\1/p' | sed -e 's/&amp;/\&/g')
  [[ -n $action ]] || fail "a page without a form: $(head -c 400 "$work/page.html")"
  case $action in
    http://* | https://*) printf '%s' "$action" ;;
    /*) printf '%s%s' "$provider" "$action" ;;
    *) fail "a form action this script does not follow: $action" ;;
  esac
}

# Each step is one request; its answer is a redirect (followed) or a page (a form is filled).
log "GET ${url%%\?*}?…"
read -r status location < <(curl_ --output "$work/page.html" --write-out '%{http_code} %{redirect_url}\n' "$url") ||
  fail "could not fetch the authorize URL"
for _ in $(seq 1 12); do
  if [[ $status =~ ^30[1237]$ && -n ${location:-} ]]; then
    if [[ $(origin_of "$location") != "$provider" ]]; then
      # The provider hands the answer to the client: the loopback callback finishes the sign-in.
      log "GET ${location%%\?*}?… (callback)"
      status=$(curl_ --output "$work/callback.html" --write-out '%{http_code}' "$location") ||
        fail "could not reach the callback $location"
      [[ $status == 200 ]] || fail "the callback answered HTTP $status: $(head -c 400 "$work/callback.html")"
      log "done: the client accepted the callback"
      exit 0
    fi
    log "GET ${location%%\?*} (provider redirect)"
    read -r status location < <(curl_ --output "$work/page.html" --write-out '%{http_code} %{redirect_url}\n' \
      "$location") || fail "could not follow $location"
    continue
  fi
  [[ $status == 200 ]] || fail "the provider answered HTTP $status: $(head -c 400 "$work/page.html")"
  action=$(form_action)
  if grep -q 'name="login"' "$work/page.html"; then
    log "POST ${action%%\?*} (sign in as $user)"
    form=(--data-urlencode "prompt=login" --data-urlencode "login=$user" --data-urlencode "password=any")
  elif grep -q 'value="consent"' "$work/page.html"; then
    log "POST ${action%%\?*} (consent)"
    form=(--data-urlencode "prompt=consent")
  else
    fail "an unexpected page: $(head -c 400 "$work/page.html")"
  fi
  read -r status location < <(curl_ --output "$work/page.html" --write-out '%{http_code} %{redirect_url}\n' \
    "${form[@]}" "$action") || fail "could not POST to $action"
done
fail "the provider did not hand the sign-in back within 12 steps"
