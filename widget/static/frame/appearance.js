/* How the chat looks: the site's accent colour, light or dark, the header (logo, or the avatar of
 * the agent answering), the greeting, and the page's fixed words in the visitor's language. */
import { ChatSocket } from "../socket.js";
import { t } from "./i18n.js";
import { $, clear, el, state, toParent } from "./page.js";

function luminance(hex) {
  var c = [1, 3, 5].map(function (i) {
    var v = parseInt(hex.substr(i, 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
var accent = null;

/** Light or dark: the site's choice, or ("auto") the visitor's. The launcher is told, so that
 * the box around the frame matches. */
export function scheme() {
  var wanted = state.siteInfo.theme || "auto";
  var isDark = wanted === "dark" || (wanted === "auto" && !!dark && dark.matches);
  document.documentElement.setAttribute("data-theme", isDark ? "dark" : "light");
  toParent({ type: "theme", color: accent, dark: isDark });
}
if (dark && dark.addEventListener) dark.addEventListener("change", scheme);

/** The accent colour; text on it is white or near-black, whichever contrasts more (WCAG AA). */
export function theme(color) {
  if (!/^#[0-9a-f]{6}$/i.test(color || "")) return;
  var l = luminance(color), onWhite = 1.05 / (l + 0.05), onDark = (l + 0.05) / 0.0622;
  var root = document.documentElement.style;  // CSSOM: allowed by a strict style-src
  root.setProperty("--accent", color);
  root.setProperty("--on-accent", onWhite >= onDark ? "#ffffff" : "#111418");
  accent = color;
  scheme();
}

/* A logo that does not load (moved, mistyped, its host down) is left out, not shown broken. */
var brokenLogo = null;
$("logo").addEventListener("error", function () {
  brokenLogo = $("logo").getAttribute("src");
  $("logo").hidden = true;
});

/** The header: who is answering (their picture), else the site's logo. */
export function renderHeader() {
  var logo = $("logo"), avatar = $("agent-avatar"), who = state.assignee;
  var showAvatar = !!(who && who.avatar && !state.resolved);
  if (showAvatar && avatar.getAttribute("src") !== who.avatar) avatar.src = who.avatar;
  avatar.hidden = !showAvatar;
  if (state.siteInfo.logo && state.siteInfo.logo !== brokenLogo) {
    if (logo.getAttribute("src") !== state.siteInfo.logo) logo.src = state.siteInfo.logo;
    logo.hidden = showAvatar;
  } else logo.hidden = true;
  // "Send me a transcript" (by email): where the server sends email and knows the visitor's address.
  $("transcript").hidden = !(state.email && state.conversationId && state.visitor.email);
}

/** The site's greeting, first in the list (shown, not stored), by name when we know it (the
 * salutations of greeting.js are fetched then, not by every visitor). */
export var greetingNode = el("li", "msg theirs greeting");
export function greet() {
  var text = state.siteInfo.greeting || t("greeting");
  var first = state.visitor.name ? state.visitor.name.split(" ")[0] : "";
  if (!first) return show(text);
  import("./greeting.js").then(function (m) {
    if (state.visitor.name && state.visitor.name.split(" ")[0] === first) {
      show(m.personal(text, first, t("hi", { name: "{name}" })));
    }
  });
}
function show(text) {
  clear(greetingNode);
  ChatSocket.richText(el("div", "body", greetingNode), text);
}

/** The page's own words, in the language chosen. */
export function localize() {
  var input = $("input");
  input.placeholder = t("placeholder");
  document.querySelector("label[for=input]").textContent = t("message");
  [["send", "send"], ["close", "close"], ["emoji", "emoji"], ["attach", "attach"], ["mute", "mute"],
   ["transcript", "emailTranscript"]]
    .forEach(function (p) { $(p[0]).setAttribute("aria-label", t(p[1])); });
  $("transcript").title = t("emailTranscript");
  $("emoji-panel").setAttribute("aria-label", t("emoji"));
  $("messages").setAttribute("aria-label", t("conversation"));
  $("intake-name-label").textContent = t("name");
  $("intake-email-label").textContent = t("email");
  $("intake-message-label").textContent = t("yourMessage");
  $("preview-notice").textContent = t("previewNotice");
  $("kb-q").placeholder = t("searchHelp");
  $("kb-q").setAttribute("aria-label", t("searchHelp"));
}
