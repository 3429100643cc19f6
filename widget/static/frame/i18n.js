/* The chat frame's words. English is here; every other language is a module of its own in
 * lang/, fetched only by the visitors who read it. use("pt-BR") takes "pt", anything unknown
 * English; {name}-style slots are filled by t(). */
var en = {
  message: "Message", placeholder: "Write a message…", send: "Send", close: "Close chat",
  conversation: "Conversation", online: "We're online. Ask us anything.",
  offline: "Leave a message and we'll reply as soon as we can.",
  answering: "{name} is answering", next: "You're next",
  position: "You're number {n} in the queue", minute: "about a minute",
  minutes: "about {n} minutes", joined: "{name} joined the conversation",
  transferred: "{name} took over the conversation",
  requeued: "We're finding someone else to help you.",
  resolved: "This conversation was marked as resolved. Write again any time.",
  typing: "{name} is typing…", agent: "Agent", sending: "Sending…", notSent: "Not sent: {why}",
  slowDown: "You're sending messages quickly; we'll send yours in a moment.",
  retrying: "We couldn't deliver your message yet; we'll keep trying.",
  reconnecting: "Reconnecting…", signIn: "Please sign in on this site to chat with us.",
  unavailable: "Chat is unavailable here ({code}).", blocked: "You can't chat here right now.",
  typically: "We're online · typically replies in {time}",
  previewNotice: "The team can see what you type before you send it.",
  reopened: "{name} reopened the conversation",
  emoji: "Emoji", attach: "Attach a file", mute: "Mute sounds", name: "Name", email: "Email",
  yourMessage: "Your message", greeting: "How can we help you today?", hi: "Hi {name}!",
  backToday: "We're back today at {time}.", backTomorrow: "We're back tomorrow at {time}.",
  backOn: "We're back on {day} at {time}.", offlineTitle: "We're away right now",
  // backOn's {day} where a weekday takes an article of its gender (in Portuguese "no sábado",
  // "na segunda-feira"), the seven, Sunday first; null for the weekday as the browser writes it.
  onDays: null,
  offlineText: "Leave a message and we'll reply by email.",
  prechatTitle: "Before we start", prechatText: "Tell us who you are, so we can help you better.",
  leaveMessage: "Leave a message", startChat: "Start the chat",
  needName: "Please tell us your name.", needEmail: "Please enter a valid email address.",
  needMessage: "Please write a message.", today: "Today", yesterday: "Yesterday", seen: "Seen",
  rateTitle: "How was this conversation?", stars: "{n} out of 5",
  comment: "Anything to add? (optional)", rate: "Send rating",
  thanksRating: "Thank you for your rating ({n}/5).", newConversation: "Start a new conversation",
  uploading: "Uploading {name}…", tooLong: "the upload took too long",
  uploadFailed: "the upload failed: check your connection",
  leftMessage: "Thanks! We got your message and will reply to {email}.",
  leftMessageNoEmail: "Thanks! We got your message and will reply here.",
  askEmail: "Nobody can answer right now. Leave your email and we'll send the reply there.",
  notifyMe: "Notify me",
  willEmail: "Thanks! If you're not here when we answer, we'll email the reply to {email}.",
  botName: "{name} (bot)", botAnswering: "{name} (bot) is answering",
  talkToPerson: "Talk to a person", handoff: "Connecting you with a person…",
  searchHelp: "Search our help articles",
  emailTranscript: "Send me a transcript",
  transcriptSent: "We're emailing this conversation to {email}.",
  transcriptNoEmail: "We can't email this conversation: we don't have your email address.",
  // Why a message or file was refused, by the server's error code (docs/protocol.md) after
  // "why_"; another code is said in the server's words (reason).
  why_bad_text: "the message has a character that can't be sent",
  why_unsupported_type: "send an image (PNG, JPEG, GIF, WebP), a PDF or a text file",
  why_too_large: "the file is too large",
  why_quota_exceeded: "you have sent too many files",
  why_rate_limited: "too many files at once: try again in a moment",
  why_blocked: "you can't send messages here"
};
export var LANGUAGES = ["en", "pt", "el", "es", "fr", "de", "ar", "he"];
var RTL = { ar: 1, he: 1, fa: 1, ur: 1 };
var current = en, code = "en", loading = null;

function base(tag) { return String(tag || "").toLowerCase().split("-")[0]; }

/** Switch to the language of ``tag`` (its words fetched first); resolves to the code used. */
export function use(tag) {
  var wanted = LANGUAGES.indexOf(base(tag)) >= 0 ? base(tag) : "en";
  var done = wanted === "en" ? Promise.resolve(en)
    : import("./lang/" + wanted + ".js").then(function (m) { return m.default; },
                                              function () { wanted = "en"; return en; });
  var mine = loading = done.then(function (words) {
    if (mine !== loading) return code;  // a later call won
    current = words;
    code = wanted;
    document.documentElement.lang = code;
    document.documentElement.dir = RTL[code] ? "rtl" : "ltr";
    return code;
  });
  return mine;
}

export function lang() { return code; }

/** For dates and times: the browser's own locale when it speaks this language (en-GB keeps its
 * 24-hour clock), else the language in the browser's region (ja-JP reads English: "en-JP"). */
export function locale() {
  var own = navigator.language || "", region = /-([a-z]{2}|\d{3})(-|$)/i.exec(own);
  return base(own) === code ? own : region ? code + "-" + region[1] : code;
}
/** The browser's own clock, whatever the words: "h12", "h23"… (undefined: the language's). */
function cycle() {
  try {
    return new Intl.DateTimeFormat(navigator.language, { hour: "numeric" }).resolvedOptions()
      .hourCycle;
  } catch (e) { return undefined; }
}

/** Why something was refused (an error's ``code``), in the visitor's words; else ``message``. */
export function reason(code, message) {
  return current["why_" + code] || en["why_" + code] || message;
}

export function t(key, slots) {
  var text = current[key] || en[key] || key;
  return text.replace(/\{(\w+)\}/g, function (_, k) {
    return slots && slots[k] !== undefined ? String(slots[k]) : "";
  });
}

// --- times and days, in the visitor's words --------------------------------------------

export function time(ms) {
  return new Date(ms).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit",
                                                     hourCycle: cycle() });
}
export function dayOf(ms) { return new Date(ms).toDateString(); }
export function dayLabel(ms) {
  var d = new Date(ms), today = new Date();
  if (d.toDateString() === today.toDateString()) return t("today");
  today.setDate(today.getDate() - 1);
  if (d.toDateString() === today.toDateString()) return t("yesterday");
  return d.toLocaleDateString(locale(), { weekday: "long", day: "numeric", month: "long" });
}
/** When the site is back: "We're back today at 18:00." (tomorrow, on Thursday), one full stop
 * even where the time ends with one ("11:00 π.μ."). */
export function back(ms) {
  var d = new Date(ms), day = new Date(), key = "backOn";
  if (d.toDateString() === day.toDateString()) key = "backToday";
  day.setDate(day.getDate() + 1);
  if (d.toDateString() === day.toDateString()) key = "backTomorrow";
  var days = current.onDays;
  return t(key, { time: time(ms), day: days ? days[d.getDay()]
                  : d.toLocaleDateString(locale(), { weekday: "long" }) })
    .replace(/\.\.$/, ".");
}
export function minutes(seconds) {
  var m = Math.max(1, Math.round(seconds / 60));
  return m === 1 ? t("minute") : t("minutes", { n: m });
}
