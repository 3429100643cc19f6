/* The chat frame's words, in every language the widget speaks. Pick with ChatI18n.use(tag):
 * "pt-BR" falls back to "pt", anything unknown to English. {name}-style slots are filled by t(). */
(function (w) {
  "use strict";
  var words = {
    en: {
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
      reconnecting: "Reconnecting…", signIn: "Please sign in on this site to chat with us.",
      unavailable: "Chat is unavailable here ({code})."
    },
    pt: {
      message: "Mensagem", placeholder: "Escreva uma mensagem…", send: "Enviar",
      close: "Fechar conversa", conversation: "Conversa",
      online: "Estamos online. Pergunte o que quiser.",
      offline: "Deixe uma mensagem e responderemos assim que possível.",
      answering: "{name} está a responder", next: "É o próximo",
      position: "É o número {n} na fila", minute: "cerca de um minuto",
      minutes: "cerca de {n} minutos", joined: "{name} entrou na conversa",
      transferred: "{name} assumiu a conversa",
      requeued: "Estamos a procurar outra pessoa para o ajudar.",
      resolved: "Esta conversa foi marcada como resolvida. Escreva quando quiser.",
      typing: "{name} está a escrever…", agent: "Agente", sending: "A enviar…",
      notSent: "Não enviada: {why}",
      slowDown: "Está a enviar mensagens muito depressa; enviaremos a sua dentro de momentos.",
      reconnecting: "A ligar novamente…",
      signIn: "Inicie sessão neste site para conversar connosco.",
      unavailable: "A conversa não está disponível aqui ({code})."
    },
    el: {
      message: "Μήνυμα", placeholder: "Γράψτε ένα μήνυμα…", send: "Αποστολή",
      close: "Κλείσιμο συνομιλίας", conversation: "Συνομιλία",
      online: "Είμαστε συνδεδεμένοι. Ρωτήστε μας ό,τι θέλετε.",
      offline: "Αφήστε ένα μήνυμα και θα απαντήσουμε το συντομότερο.",
      answering: "Απαντά ο/η {name}", next: "Είστε ο επόμενος",
      position: "Είστε νούμερο {n} στην ουρά", minute: "περίπου ένα λεπτό",
      minutes: "περίπου {n} λεπτά", joined: "Ο/Η {name} μπήκε στη συνομιλία",
      transferred: "Ο/Η {name} ανέλαβε τη συνομιλία",
      requeued: "Βρίσκουμε κάποιον άλλο να σας βοηθήσει.",
      resolved: "Η συνομιλία σημειώθηκε ως επιλυμένη. Γράψτε μας ξανά όποτε θέλετε.",
      typing: "Ο/Η {name} πληκτρολογεί…", agent: "Εκπρόσωπος", sending: "Αποστολή…",
      notSent: "Δεν στάλθηκε: {why}",
      slowDown: "Στέλνετε μηνύματα πολύ γρήγορα· θα στείλουμε το δικό σας σε λίγο.",
      reconnecting: "Επανασύνδεση…",
      signIn: "Συνδεθείτε σε αυτόν τον ιστότοπο για να συνομιλήσετε μαζί μας.",
      unavailable: "Η συνομιλία δεν είναι διαθέσιμη εδώ ({code})."
    },
    es: {
      message: "Mensaje", placeholder: "Escribe un mensaje…", send: "Enviar",
      close: "Cerrar chat", conversation: "Conversación",
      online: "Estamos en línea. Pregúntanos lo que quieras.",
      offline: "Deja un mensaje y te responderemos lo antes posible.",
      answering: "{name} te está atendiendo", next: "Eres el siguiente",
      position: "Eres el número {n} en la cola", minute: "aproximadamente un minuto",
      minutes: "aproximadamente {n} minutos", joined: "{name} se unió a la conversación",
      transferred: "{name} se hizo cargo de la conversación",
      requeued: "Estamos buscando a otra persona para ayudarte.",
      resolved: "Esta conversación se marcó como resuelta. Escríbenos cuando quieras.",
      typing: "{name} está escribiendo…", agent: "Agente", sending: "Enviando…",
      notSent: "No enviado: {why}",
      slowDown: "Estás enviando mensajes muy rápido; enviaremos el tuyo en un momento.",
      reconnecting: "Reconectando…", signIn: "Inicia sesión en este sitio para chatear con nosotros.",
      unavailable: "El chat no está disponible aquí ({code})."
    },
    fr: {
      message: "Message", placeholder: "Écrivez un message…", send: "Envoyer",
      close: "Fermer la discussion", conversation: "Conversation",
      online: "Nous sommes en ligne. Posez-nous vos questions.",
      offline: "Laissez un message et nous vous répondrons dès que possible.",
      answering: "{name} vous répond", next: "Vous êtes le prochain",
      position: "Vous êtes numéro {n} dans la file", minute: "environ une minute",
      minutes: "environ {n} minutes", joined: "{name} a rejoint la conversation",
      transferred: "{name} a repris la conversation",
      requeued: "Nous cherchons quelqu'un d'autre pour vous aider.",
      resolved: "Cette conversation a été marquée comme résolue. Écrivez-nous quand vous voulez.",
      typing: "{name} écrit…", agent: "Conseiller", sending: "Envoi…",
      notSent: "Non envoyé : {why}",
      slowDown: "Vous envoyez des messages très vite ; nous enverrons le vôtre dans un instant.",
      reconnecting: "Reconnexion…", signIn: "Connectez-vous sur ce site pour discuter avec nous.",
      unavailable: "La discussion n'est pas disponible ici ({code})."
    },
    de: {
      message: "Nachricht", placeholder: "Nachricht schreiben…", send: "Senden",
      close: "Chat schließen", conversation: "Unterhaltung",
      online: "Wir sind online. Fragen Sie uns alles.",
      offline: "Hinterlassen Sie eine Nachricht, wir antworten so bald wie möglich.",
      answering: "{name} antwortet Ihnen", next: "Sie sind als Nächstes dran",
      position: "Sie sind Nummer {n} in der Warteschlange", minute: "etwa eine Minute",
      minutes: "etwa {n} Minuten", joined: "{name} ist der Unterhaltung beigetreten",
      transferred: "{name} hat die Unterhaltung übernommen",
      requeued: "Wir suchen jemand anderen, der Ihnen hilft.",
      resolved: "Diese Unterhaltung wurde als gelöst markiert. Schreiben Sie uns jederzeit wieder.",
      typing: "{name} schreibt…", agent: "Mitarbeiter", sending: "Wird gesendet…",
      notSent: "Nicht gesendet: {why}",
      slowDown: "Sie senden sehr schnell; Ihre Nachricht geht gleich hinaus.",
      reconnecting: "Verbindung wird wiederhergestellt…",
      signIn: "Bitte melden Sie sich auf dieser Website an, um mit uns zu chatten.",
      unavailable: "Der Chat ist hier nicht verfügbar ({code})."
    }
  };
  var RTL = { ar: 1, he: 1, fa: 1, ur: 1 };
  var current = words.en, lang = "en";

  w.ChatI18n = {
    languages: Object.keys(words),
    use: function (tag) {
      var base = String(tag || "").toLowerCase().split("-")[0];
      lang = words[base] ? base : "en";
      current = words[lang];
      document.documentElement.lang = lang;
      document.documentElement.dir = RTL[base] ? "rtl" : "ltr";
      return lang;
    },
    t: function (key, slots) {
      var text = current[key] || words.en[key] || key;
      return text.replace(/\{(\w+)\}/g, function (_, k) {
        return slots && slots[k] !== undefined ? String(slots[k]) : "";
      });
    }
  };
})(window);
