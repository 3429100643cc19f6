/* The site's greeting, made personal once we know the visitor's first name. A greeting that
 * already says hello gets the name after its salutation ("Hi! Questions?" → "Hi Maria!
 * Questions?"); any other is preceded by the visitor's language's own ("Hi Maria! …"). Pure. */

// Longest first, so that "good morning" wins over "good". " there" (English) makes way for the
// name: "Hello there, how can we help?" → "Hello Maria, how can we help?".
var SALUTATIONS = [
  "good afternoon", "good morning", "good evening", "hello", "hiya", "howdy", "hey", "hi",
  "welcome", "bom dia", "boa tarde", "boa noite", "olá", "ola", "oi", "bem-vindo", "bem-vinda",
  "buenos días", "buenos dias", "buenas tardes", "buenas noches", "buenas", "hola",
  "bienvenido", "bienvenida", "bonjour", "bonsoir", "salut", "coucou", "bienvenue",
  "guten morgen", "guten tag", "guten abend", "grüß gott", "hallo", "moin", "servus",
  "willkommen", "γεια σας", "γεια σου", "γειά σας", "γεια", "καλημέρα", "καλησπέρα",
  "καλώς ήρθατε", "السلام عليكم", "صباح الخير", "مساء الخير", "مرحباً", "مرحبا", "أهلاً", "أهلا",
  "ברוכים הבאים", "בוקר טוב", "ערב טוב", "שלום", "היי"
].sort(function (a, b) { return b.length - a.length; });

function escape(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
var START = new RegExp("^([\\s\\p{P}]*)(" + SALUTATIONS.map(escape).join("|") +
                       ")(\\s+there)?(?=[\\s\\p{P}]|$)", "iu");

// Right-to-left letters (Hebrew, Arabic and their presentation forms).
var RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/;

/** Unicode's first-strong isolate: ``text`` keeps its own direction, and its punctuation stays
 * with it, inside a sentence that runs the other way. */
function isolate(text) { return "\u2068" + text + "\u2069"; }

/** ``greeting`` for someone called ``first`` (no name: unchanged). ``hi`` is the visitor's
 * language's own, with a {name} slot ("Hi {name}!"). When one of the two is written right to
 * left and the other not (an Arabic "Hi" before an English greeting), the greeting and the
 * name are isolated, or their full stops and question marks land at the wrong end. */
export function personal(greeting, first, hi) {
  if (!first) return greeting;
  var m = START.exec(greeting);
  if (m) return m[1] + m[2] + " " + first + greeting.slice(m[0].length);
  if (RTL.test(hi) === RTL.test(greeting)) return hi.replace("{name}", first) + " " + greeting;
  return hi.replace("{name}", isolate(first)) + " " + isolate(greeting);
}
