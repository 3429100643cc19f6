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
      retrying: "We couldn't deliver your message yet; we'll keep trying.",
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
      retrying: "Ainda não conseguimos entregar a sua mensagem; continuaremos a tentar.",
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
      retrying: "Δεν μπορέσαμε ακόμη να παραδώσουμε το μήνυμά σας· θα συνεχίσουμε να προσπαθούμε.",
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
      retrying: "Aún no hemos podido entregar tu mensaje; seguiremos intentándolo.",
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
      retrying: "Nous n'avons pas encore pu transmettre votre message ; nous réessayons.",
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
      retrying: "Ihre Nachricht konnte noch nicht zugestellt werden; wir versuchen es weiter.",
      reconnecting: "Verbindung wird wiederhergestellt…",
      signIn: "Bitte melden Sie sich auf dieser Website an, um mit uns zu chatten.",
      unavailable: "Der Chat ist hier nicht verfügbar ({code})."
    }
  };
  // The forms, receipts, attachments and rating.
  var more = {
    en: {
      typically: "We're online · typically replies in {time}",
      previewNotice: "The team can see what you type before you send it.",
      reopened: "{name} reopened the conversation",
      emoji: "Emoji", attach: "Attach a file", mute: "Mute sounds", name: "Name", email: "Email",
      yourMessage: "Your message", greeting: "How can we help you today?", hi: "Hi {name}!",
      backAt: "We're back {when}.", offlineTitle: "We're away right now",
      offlineText: "Leave a message and we'll reply by email.",
      prechatTitle: "Before we start", prechatText: "Tell us who you are, so we can help you better.",
      leaveMessage: "Leave a message", startChat: "Start the chat",
      needName: "Please tell us your name.", needEmail: "Please enter a valid email address.",
      needMessage: "Please write a message.", today: "Today", yesterday: "Yesterday", seen: "Seen",
      rateTitle: "How was this conversation?", stars: "{n} out of 5",
      comment: "Anything to add? (optional)", rate: "Send rating",
      thanksRating: "Thank you for your rating ({n}/5).", newConversation: "Start a new conversation",
      uploading: "Uploading {name}…",
      leftMessage: "Thanks! We got your message and will reply to {email}.",
      leftMessageNoEmail: "Thanks! We got your message and will reply here."
    },
    pt: {
      typically: "Estamos online · costumamos responder em {time}",
      previewNotice: "A equipa vê o que escreve antes de enviar.",
      reopened: "{name} reabriu a conversa",
      emoji: "Emoji", attach: "Anexar um ficheiro", mute: "Silenciar sons", name: "Nome",
      email: "Email", yourMessage: "A sua mensagem", greeting: "Como o podemos ajudar hoje?",
      hi: "Olá {name}!", backAt: "Voltamos {when}.", offlineTitle: "Estamos ausentes de momento",
      offlineText: "Deixe uma mensagem e responderemos por email.",
      prechatTitle: "Antes de começar", prechatText: "Diga-nos quem é, para o ajudarmos melhor.",
      leaveMessage: "Deixar mensagem", startChat: "Começar a conversa",
      needName: "Indique o seu nome.", needEmail: "Indique um email válido.",
      needMessage: "Escreva uma mensagem.", today: "Hoje", yesterday: "Ontem", seen: "Vista",
      rateTitle: "Como correu esta conversa?", stars: "{n} em 5",
      comment: "Algo a acrescentar? (opcional)", rate: "Enviar avaliação",
      thanksRating: "Obrigado pela sua avaliação ({n}/5).", newConversation: "Começar nova conversa",
      uploading: "A enviar {name}…",
      leftMessage: "Obrigado! Recebemos a sua mensagem e responderemos para {email}.",
      leftMessageNoEmail: "Obrigado! Recebemos a sua mensagem e responderemos aqui."
    },
    el: {
      typically: "Είμαστε online · συνήθως απαντάμε σε {time}",
      previewNotice: "Η ομάδα βλέπει ό,τι γράφετε πριν το στείλετε.",
      reopened: "{name} άνοιξε ξανά τη συνομιλία",
      emoji: "Emoji", attach: "Επισύναψη αρχείου", mute: "Σίγαση ήχων", name: "Όνομα",
      email: "Email", yourMessage: "Το μήνυμά σας", greeting: "Πώς μπορούμε να σας βοηθήσουμε;",
      hi: "Γεια σας {name}!", backAt: "Επιστρέφουμε {when}.",
      offlineTitle: "Δεν είμαστε διαθέσιμοι αυτή τη στιγμή",
      offlineText: "Αφήστε ένα μήνυμα και θα σας απαντήσουμε με email.",
      prechatTitle: "Πριν ξεκινήσουμε", prechatText: "Πείτε μας ποιος είστε, για να σας βοηθήσουμε καλύτερα.",
      leaveMessage: "Αφήστε μήνυμα", startChat: "Έναρξη συνομιλίας",
      needName: "Γράψτε το όνομά σας.", needEmail: "Γράψτε ένα έγκυρο email.",
      needMessage: "Γράψτε ένα μήνυμα.", today: "Σήμερα", yesterday: "Χθες", seen: "Διαβάστηκε",
      rateTitle: "Πώς ήταν αυτή η συνομιλία;", stars: "{n} από 5",
      comment: "Κάτι να προσθέσετε; (προαιρετικό)", rate: "Αποστολή αξιολόγησης",
      thanksRating: "Ευχαριστούμε για την αξιολόγηση ({n}/5).",
      newConversation: "Νέα συνομιλία", uploading: "Αποστολή {name}…",
      leftMessage: "Ευχαριστούμε! Λάβαμε το μήνυμά σας και θα απαντήσουμε στο {email}.",
      leftMessageNoEmail: "Ευχαριστούμε! Λάβαμε το μήνυμά σας και θα απαντήσουμε εδώ."
    },
    es: {
      typically: "Estamos en línea · solemos responder en {time}",
      previewNotice: "El equipo ve lo que escribe antes de enviarlo.",
      reopened: "{name} reabrió la conversación",
      emoji: "Emoji", attach: "Adjuntar un archivo", mute: "Silenciar sonidos", name: "Nombre",
      email: "Correo", yourMessage: "Su mensaje", greeting: "¿En qué podemos ayudarle hoy?",
      hi: "¡Hola {name}!", backAt: "Volvemos {when}.", offlineTitle: "Ahora no estamos disponibles",
      offlineText: "Deje un mensaje y le responderemos por correo.",
      prechatTitle: "Antes de empezar", prechatText: "Díganos quién es para ayudarle mejor.",
      leaveMessage: "Dejar un mensaje", startChat: "Empezar el chat",
      needName: "Indique su nombre.", needEmail: "Indique un correo válido.",
      needMessage: "Escriba un mensaje.", today: "Hoy", yesterday: "Ayer", seen: "Visto",
      rateTitle: "¿Qué tal fue esta conversación?", stars: "{n} de 5",
      comment: "¿Algo que añadir? (opcional)", rate: "Enviar valoración",
      thanksRating: "Gracias por su valoración ({n}/5).", newConversation: "Nueva conversación",
      uploading: "Subiendo {name}…",
      leftMessage: "¡Gracias! Recibimos su mensaje y responderemos a {email}.",
      leftMessageNoEmail: "¡Gracias! Recibimos su mensaje y responderemos aquí."
    },
    fr: {
      typically: "En ligne · répond généralement en {time}",
      previewNotice: "L'équipe voit ce que vous écrivez avant l'envoi.",
      reopened: "{name} a rouvert la discussion",
      emoji: "Emoji", attach: "Joindre un fichier", mute: "Couper les sons", name: "Nom",
      email: "E-mail", yourMessage: "Votre message", greeting: "Comment pouvons-nous vous aider ?",
      hi: "Bonjour {name} !", backAt: "De retour {when}.",
      offlineTitle: "Nous sommes absents pour le moment",
      offlineText: "Laissez un message, nous vous répondrons par e-mail.",
      prechatTitle: "Avant de commencer", prechatText: "Dites-nous qui vous êtes pour mieux vous aider.",
      leaveMessage: "Laisser un message", startChat: "Commencer la discussion",
      needName: "Indiquez votre nom.", needEmail: "Indiquez une adresse e-mail valide.",
      needMessage: "Écrivez un message.", today: "Aujourd'hui", yesterday: "Hier", seen: "Vu",
      rateTitle: "Comment s'est passée cette discussion ?", stars: "{n} sur 5",
      comment: "Autre chose ? (facultatif)", rate: "Envoyer la note",
      thanksRating: "Merci pour votre note ({n}/5).", newConversation: "Nouvelle discussion",
      uploading: "Envoi de {name}…",
      leftMessage: "Merci ! Nous avons reçu votre message et répondrons à {email}.",
      leftMessageNoEmail: "Merci ! Nous avons reçu votre message et répondrons ici."
    },
    de: {
      typically: "Wir sind online · antworten meist in {time}",
      previewNotice: "Das Team sieht, was Sie tippen, bevor Sie es senden.",
      reopened: "{name} hat die Unterhaltung wieder geöffnet",
      emoji: "Emoji", attach: "Datei anhängen", mute: "Töne stummschalten", name: "Name",
      email: "E-Mail", yourMessage: "Ihre Nachricht", greeting: "Wie können wir Ihnen helfen?",
      hi: "Hallo {name}!", backAt: "Wir sind {when} wieder da.",
      offlineTitle: "Wir sind gerade nicht da",
      offlineText: "Hinterlassen Sie eine Nachricht, wir antworten per E-Mail.",
      prechatTitle: "Bevor es losgeht", prechatText: "Sagen Sie uns, wer Sie sind, damit wir besser helfen können.",
      leaveMessage: "Nachricht hinterlassen", startChat: "Chat starten",
      needName: "Bitte geben Sie Ihren Namen an.", needEmail: "Bitte geben Sie eine gültige E-Mail an.",
      needMessage: "Bitte schreiben Sie eine Nachricht.", today: "Heute", yesterday: "Gestern",
      seen: "Gesehen", rateTitle: "Wie war diese Unterhaltung?", stars: "{n} von 5",
      comment: "Noch etwas? (optional)", rate: "Bewertung senden",
      thanksRating: "Danke für Ihre Bewertung ({n}/5).", newConversation: "Neue Unterhaltung",
      uploading: "{name} wird hochgeladen…",
      leftMessage: "Danke! Wir haben Ihre Nachricht erhalten und antworten an {email}.",
      leftMessageNoEmail: "Danke! Wir haben Ihre Nachricht erhalten und antworten hier."
    }
  };
  Object.keys(more).forEach(function (l) {
    Object.keys(more[l]).forEach(function (k) { words[l][k] = more[l][k]; });
  });
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
