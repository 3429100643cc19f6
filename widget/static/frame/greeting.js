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

/** ``greeting`` for someone called ``first`` (no name: unchanged). ``hi`` is the visitor's
 * language's own, with a {name} slot ("Hi {name}!"). */
export function personal(greeting, first, hi) {
  if (!first) return greeting;
  var m = START.exec(greeting);
  if (m) return m[1] + m[2] + " " + first + greeting.slice(m[0].length);
  return hi.replace("{name}", first) + " " + greeting;
}
