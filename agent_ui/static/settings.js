/* The Settings popover: notifications, the panel's language and colours (remembered on this
 * browser), and the agent's own picture (uploaded to the server: visitors see it). */
import { $, api, avatar, clear, el } from "./kit.js";
import { LANGUAGES, lang, onLanguage, t, use } from "./i18n.js";
import { prefs, savePrefs } from "./notifications.js";
import { state } from "./state.js";

var THEME_KEY = "livechat:panel-theme";
var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
var rerender = function () {};

export function theme() {
  var chosen = "auto";
  try { chosen = localStorage.getItem(THEME_KEY) || "auto"; } catch (e) { /* private mode */ }
  return chosen;
}
/** Light or dark: the agent's choice, or the system's ("auto"). */
export function applyTheme() {
  var chosen = theme();
  var isDark = chosen === "dark" || (chosen === "auto" && !!dark && dark.matches);
  document.documentElement.setAttribute("data-theme", isDark ? "dark" : "light");
}
if (dark && dark.addEventListener) dark.addEventListener("change", applyTheme);

/** Me, in the top bar and in the settings (after a new picture, too). */
export function renderMe() {
  var me = state.me;
  $("me-name").textContent = me.name;
  $("me-name").title = me.name;  // (a long one is shortened on the page)
  var box = $("me-avatar");
  clear(box);
  avatar(box, me);
  var picture = $("my-picture");
  clear(picture);
  avatar(picture, me, "large");
  $("avatar-remove").hidden = !me.has_avatar;
}

function upload(file) {
  $("avatar-error").textContent = "";
  fetch("/api/agent/avatar", { method: "POST", body: file, credentials: "same-origin" })
    .then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.message); return j; });
    })
    .then(function (j) {
      // The same URL with a new picture: ask again, past the browser's copy.
      j.agent.avatar += "?v=" + Date.now();
      state.me = j.agent;
      renderMe();
    })
    .catch(function (e) { $("avatar-error").textContent = e.message; });
}

/** Whether this server sends email, in the popover (where the language is switched, too). */
function emailStatus() {
  $("email-status").textContent = state.email
    ? t("Email is on: visitors who leave get unseen replies by email.")
    : t("Email is off on this server (LIVECHAT_SMTP_URL is not set).");
}

/** The emails this agent wants (kept on the server), where the server sends email. */
function loadEmailPrefs() {
  emailStatus();
  $("opt-email-assigned-row").hidden = !state.email;
  $("opt-email-mentioned-row").hidden = !state.email;
  $("opt-email-digest-row").hidden = !state.email || state.me.role !== "admin";
  if (!state.email) return;
  api("/api/agent/email-prefs").then(function (p) {
    $("opt-email-assigned").checked = p.assigned;
    $("opt-email-digest").checked = p.digest;
    $("opt-email-mentioned").checked = p.mentioned;
  });
}

/** ``changed`` redraws what depends on the settings (the list, the words). */
export function setUpSettings(changed) {
  rerender = changed;
  onLanguage(emailStatus);
  ["desktop", "sound", "title", "autoaway"].forEach(function (name) {
    var box = $("opt-" + name);
    box.checked = !!prefs[name];
    box.addEventListener("change", function () {
      prefs[name] = box.checked;
      savePrefs();
      if (name === "desktop" && box.checked && window.Notification &&
          Notification.permission === "default") {
        Notification.requestPermission();
      }
      rerender();
    });
  });
  $("settings-button").addEventListener("click", function () {
    var open = $("settings").hidden;
    $("settings").hidden = !open;
    $("settings-button").setAttribute("aria-expanded", String(open));
    if (open) loadEmailPrefs();
  });
  ["assigned", "digest", "mentioned"].forEach(function (name) {
    var box = $("opt-email-" + name);
    box.addEventListener("change", function () {
      var change = {};
      change[name] = box.checked;
      api("/api/agent/email-prefs", change).catch(function () { box.checked = !box.checked; });
    });
  });
  var languages = $("opt-language");
  LANGUAGES.forEach(function (l) {
    var option = el("option", "", languages, l[1]);
    option.value = l[0];
    option.lang = l[0];
  });
  languages.value = lang();
  languages.addEventListener("change", function () {
    use(languages.value, true).then(function () { rerender(true); });
  });
  var themes = $("opt-theme");
  themes.value = theme();
  themes.addEventListener("change", function () {
    try { localStorage.setItem(THEME_KEY, themes.value); } catch (e) { /* private mode */ }
    applyTheme();
  });
  $("avatar-upload").addEventListener("click", function () { $("avatar-file").click(); });
  $("avatar-file").addEventListener("change", function () {
    var file = $("avatar-file").files[0];
    $("avatar-file").value = "";
    if (file) upload(file);
  });
  $("avatar-remove").addEventListener("click", function () {
    fetch("/api/agent/avatar", { method: "DELETE", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (!j.agent) return;
        j.agent.avatar += "?v=" + Date.now();
        state.me = j.agent;
        renderMe();
      });
  });
}
