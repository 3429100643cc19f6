"""A fixed corpus for the knowledge base's search quality (tests/test_kb_quality.py): the help
articles of an outdoor-gear shop, 26 in English and their 26 Portuguese translations, and a
customer's question for each in each language, phrased as customers write (not with the
article's title). docs/benchmarks.md records the hit rate."""

from __future__ import annotations

#: key -> (English title, English body, Portuguese title, Portuguese body)
ARTICLES: dict[str, tuple[str, str, str, str]] = {
    "returns": (
        "Returns and refunds",
        "You can send any item back within 30 days of delivery for a full refund. Print the "
        "prepaid label from your account, pack the item unused with its tags, and drop it at a "
        "post office. The money goes back to your original payment method within 5 working "
        "days of the parcel reaching us.",
        "Devoluções e reembolsos",
        "Pode devolver qualquer artigo até 30 dias após a entrega e receber o reembolso total. "
        "Imprima a etiqueta pré-paga na sua conta, embale o artigo sem uso e com as etiquetas, "
        "e entregue-o nos correios. O dinheiro volta ao meio de pagamento original em 5 dias "
        "úteis depois de a encomenda chegar até nós."),
    "exchange": (
        "Exchanging an item for another size or colour",
        "To swap a product for a different size or colour, start an exchange in My orders. We "
        "send the new one as soon as the original is scanned at the post office, at no extra "
        "cost.",
        "Trocar um artigo por outro tamanho ou cor",
        "Para trocar um produto por outro tamanho ou cor, inicie uma troca em As minhas "
        "encomendas. Enviamos o novo assim que o original for lido nos correios, sem custos "
        "adicionais."),
    "delivery_times": (
        "Delivery times",
        "Orders placed before 2 pm on a working day leave our warehouse the same day. Standard "
        "delivery takes 2 to 4 working days; express delivery arrives the next working day.",
        "Prazos de entrega",
        "As encomendas feitas antes das 14h num dia útil saem do armazém no mesmo dia. A "
        "entrega normal demora 2 a 4 dias úteis; a entrega expresso chega no dia útil seguinte."),
    "shipping_costs": (
        "Shipping costs and free shipping",
        "Standard shipping costs 4.95 €. It is free for orders over 60 €. Express shipping costs "
        "9.95 € whatever the order's value.",
        "Portes de envio e envio grátis",
        "O envio normal custa 4,95 €. É grátis para encomendas acima de 60 €. O envio expresso "
        "custa 9,95 €, seja qual for o valor da encomenda."),
    "international": (
        "Shipping outside the European Union",
        "We ship to the United Kingdom, Switzerland, Norway, the United States and Canada. "
        "Customs duties and import taxes are paid by the recipient on delivery.",
        "Envios para fora da União Europeia",
        "Enviamos para o Reino Unido, a Suíça, a Noruega, os Estados Unidos e o Canadá. Os "
        "direitos aduaneiros e impostos de importação são pagos pelo destinatário na entrega."),
    "tracking": (
        "Tracking your parcel",
        "When your order ships we email you a tracking number and a link to the carrier's page. "
        "You can also follow the parcel in My orders. Tracking can take 24 hours to show the "
        "first scan.",
        "Seguir a sua encomenda",
        "Quando a encomenda é expedida enviamos-lhe por email um número de seguimento e a "
        "ligação para a página da transportadora. Também pode acompanhar o envio em As minhas "
        "encomendas. O primeiro registo pode demorar 24 horas a aparecer."),
    "cancel": (
        "Changing or cancelling an order",
        "An order can be changed or cancelled until it is packed, usually within an hour of "
        "placing it. Open My orders and choose Cancel, or write to us in the chat straight away.",
        "Alterar ou cancelar uma encomenda",
        "Uma encomenda pode ser alterada ou cancelada até ser embalada, normalmente na primeira "
        "hora depois de a fazer. Abra As minhas encomendas e escolha Cancelar, ou escreva-nos "
        "no chat de imediato."),
    "payment": (
        "Payment methods",
        "We accept Visa, Mastercard, American Express, PayPal, Apple Pay, Google Pay and "
        "MB Way. Your card is charged when the order ships, not when you place it.",
        "Métodos de pagamento",
        "Aceitamos Visa, Mastercard, American Express, PayPal, Apple Pay, Google Pay e MB Way. "
        "O cartão só é cobrado quando a encomenda é expedida, não quando a faz."),
    "invoice": (
        "Invoices with your tax number",
        "Every order comes with an invoice in My orders. To have your company's VAT number on "
        "it, add the number at checkout; we cannot change an invoice once it is issued.",
        "Faturas com o seu NIF",
        "Cada encomenda tem uma fatura em As minhas encomendas. Para incluir o número de "
        "contribuinte (NIF) da sua empresa, indique-o no checkout; não é possível alterar uma "
        "fatura depois de emitida."),
    "gift_cards": (
        "Gift cards",
        "Gift cards from 10 € to 500 € are sent by email and are valid for two years. They can "
        "be used online and in our stores, and combined with a discount code.",
        "Cartões-oferta",
        "Os cartões-oferta de 10 € a 500 € são enviados por email e valem durante dois anos. "
        "Podem ser usados online e nas lojas, e juntamente com um código de desconto."),
    "discount": (
        "A discount code that does not work",
        "Check that the code has not expired, that your basket reaches its minimum amount and "
        "that the products are not already on sale: codes do not apply to reduced prices. Only "
        "one code can be used per order.",
        "Um código de desconto que não funciona",
        "Confirme que o código não expirou, que o cesto atinge o valor mínimo e que os produtos "
        "não estão já em saldos: os códigos não se aplicam a preços reduzidos. Só pode usar um "
        "código por encomenda."),
    "warranty": (
        "Warranty",
        "All our products have a three-year guarantee against manufacturing defects. Tents and "
        "backpacks from our own brand are guaranteed for five years. Keep your receipt or "
        "order number.",
        "Garantia",
        "Todos os produtos têm três anos de garantia contra defeitos de fabrico. As tendas e "
        "mochilas da nossa marca têm cinco anos de garantia. Guarde o talão ou o número da "
        "encomenda."),
    "repairs": (
        "Repair service",
        "Our workshop repairs torn tent fabric, broken poles, zips and seams, even outside the "
        "warranty. Bring the item to a store or send it to us; we quote the price before any "
        "work.",
        "Serviço de reparações",
        "A nossa oficina repara lona de tenda rasgada, varetas partidas, fechos e costuras, "
        "mesmo fora da garantia. Traga o artigo a uma loja ou envie-o; damos-lhe o orçamento "
        "antes de qualquer trabalho."),
    "sleeping_bags": (
        "Choosing a sleeping bag: temperature ratings",
        "Each sleeping bag shows a comfort temperature (a relaxed sleeper stays warm) and a "
        "limit temperature (curled up, for one night). Choose a comfort rating a few degrees "
        "below the coldest night you expect.",
        "Escolher um saco-cama: temperaturas",
        "Cada saco-cama indica uma temperatura de conforto (quem dorme descontraído fica quente) "
        "e uma temperatura limite (encolhido, por uma noite). Escolha um conforto uns graus "
        "abaixo da noite mais fria que espera."),
    "down_care": (
        "Washing a down jacket",
        "Wash down garments at 30 °C on a gentle cycle with a special down detergent, never "
        "softener. Tumble dry on low heat with two tennis balls until the down is fluffy again.",
        "Lavar um casaco de penas",
        "Lave as peças de penas a 30 °C em programa delicado com detergente próprio para penas, "
        "nunca amaciador. Seque na máquina a baixa temperatura com duas bolas de ténis até as "
        "penas voltarem a ficar fofas."),
    "reproofing": (
        "Restoring the waterproofing of a jacket",
        "When rain stops beading on the fabric, wash the jacket with a technical cleaner, then "
        "apply a spray-on water repellent and dry it warm. This renews the DWR coating.",
        "Renovar a impermeabilização de um casaco",
        "Quando a chuva deixa de escorrer em gotas no tecido, lave o casaco com um produto de "
        "limpeza técnico, aplique um repelente de água em spray e seque com calor. Isto renova "
        "o tratamento DWR."),
    "boot_sizes": (
        "Finding your boot size",
        "Measure your foot in the afternoon, standing, with the socks you will hike in, and add "
        "about 1 cm for the toes. Our size charts convert EU, UK and US sizes.",
        "Encontrar o tamanho das botas",
        "Meça o pé ao fim da tarde, de pé, com as meias que vai usar nas caminhadas, e some "
        "cerca de 1 cm para os dedos. As nossas tabelas convertem números europeus, ingleses e "
        "americanos."),
    "rental": (
        "Renting equipment",
        "Tents, sleeping bags, stoves and kayaks can be hired from our Lisbon and Porto stores "
        "by the day or the week. Book online at least three days ahead; a deposit is held on "
        "your card.",
        "Aluguer de equipamento",
        "Tendas, sacos-cama, fogareiros e caiaques podem ser alugados nas lojas de Lisboa e do "
        "Porto ao dia ou à semana. Reserve online com pelo menos três dias de antecedência; é "
        "retida uma caução no cartão."),
    "stores": (
        "Our stores and opening hours",
        "Our stores in Lisbon, Porto and Faro open Monday to Saturday from 10 am to 8 pm and "
        "Sunday from 10 am to 1 pm. Addresses and phone numbers are on the Stores page.",
        "As nossas lojas e horários",
        "As lojas de Lisboa, Porto e Faro abrem de segunda a sábado das 10h às 20h e ao domingo "
        "das 10h às 13h. As moradas e os telefones estão na página Lojas."),
    "password": (
        "Signing in and resetting your password",
        "On the sign-in page choose Forgot password and enter your email: we send a link valid "
        "for one hour. If no email arrives, look in your spam folder.",
        "Entrar na conta e recuperar a palavra-passe",
        "Na página de entrada escolha Esqueci-me da palavra-passe e indique o seu email: "
        "enviamos uma ligação válida durante uma hora. Se o email não chegar, veja a pasta de "
        "spam."),
    "privacy": (
        "Deleting your account and your personal data",
        "You can close your account in Account settings. We then erase your personal data, "
        "except the invoices the law requires us to keep for ten years.",
        "Apagar a sua conta e os seus dados pessoais",
        "Pode encerrar a sua conta nas Definições da conta. Apagamos então os seus dados "
        "pessoais, exceto as faturas que a lei nos obriga a guardar durante dez anos."),
    "newsletter": (
        "Unsubscribing from the newsletter",
        "Every newsletter has an unsubscribe link at the bottom. You can also untick Newsletter "
        "in Account settings; it takes effect within 48 hours.",
        "Cancelar a subscrição da newsletter",
        "Cada newsletter tem no fim uma ligação para cancelar a subscrição. Também pode desmarcar "
        "Newsletter nas Definições da conta; produz efeito em 48 horas."),
    "loyalty": (
        "The loyalty programme and its points",
        "Members earn one point for every euro spent. 100 points become a 5 € voucher, which "
        "you can use on your next purchase. Points expire after 12 months without a purchase.",
        "O programa de fidelização e os pontos",
        "Os membros ganham um ponto por cada euro gasto. 100 pontos dão um vale de 5 €, que pode "
        "usar na próxima compra. Os pontos expiram ao fim de 12 meses sem compras."),
    "damaged": (
        "An item arrived damaged",
        "If a product arrives broken or the box is crushed, take a photo and tell us within 14 "
        "days. We send a replacement right away, and you return the damaged one free of charge.",
        "Um artigo chegou danificado",
        "Se um produto chegar partido ou a caixa vier esmagada, tire uma fotografia e avise-nos "
        "em 14 dias. Enviamos logo um artigo novo e devolve o danificado sem custos."),
    "missing": (
        "Something is missing from your parcel",
        "Large orders sometimes come in several parcels: check your shipping email. If an item "
        "is still missing after all parcels arrived, contact us and we will send it again.",
        "Falta um artigo na sua encomenda",
        "As encomendas grandes vêm por vezes em vários volumes: veja o email de expedição. Se "
        "ainda faltar um artigo depois de chegarem todos os volumes, contacte-nos e voltamos a "
        "enviá-lo."),
    "click_collect": (
        "Click and collect in a store",
        "Choose Collect in store at checkout and pick the store. We email you when the order "
        "is ready, usually within two hours; bring the email or your order number.",
        "Levantar a encomenda numa loja",
        "Escolha Levantar na loja no checkout e indique a loja. Avisamos por email quando a "
        "encomenda estiver pronta, normalmente em duas horas; traga o email ou o número da "
        "encomenda."),
}

#: (language, question, the article's key): how customers asked, in their words.
QUESTIONS: list[tuple[str, str, str]] = [
    ("en", "I didn't like the jacket, can I get my money back?", "returns"),
    ("en", "the boots are too small, can I swap them for a bigger size", "exchange"),
    ("en", "how long does delivery take", "delivery_times"),
    ("en", "is shipping free?", "shipping_costs"),
    ("en", "do you deliver to the UK", "international"),
    ("en", "where is my parcel? I need the tracking number", "tracking"),
    ("en", "I want to cancel my order", "cancel"),
    ("en", "can I pay with paypal", "payment"),
    ("en", "I need an invoice with my company VAT number", "invoice"),
    ("en", "how long is a gift card valid", "gift_cards"),
    ("en", "my promo code is not working", "discount"),
    ("en", "how many years of guarantee on a tent", "warranty"),
    ("en", "my tent pole broke, can you fix it?", "repairs"),
    ("en", "what temperature sleeping bag do I need for winter", "sleeping_bags"),
    ("en", "how do I wash my down jacket", "down_care"),
    ("en", "my rain jacket is not waterproof anymore", "reproofing"),
    ("en", "what size hiking boots should I buy", "boot_sizes"),
    ("en", "can I hire a kayak for the weekend", "rental"),
    ("en", "what time does the Porto store open on Sunday", "stores"),
    ("en", "forgot my password", "password"),
    ("en", "please delete my account and data", "privacy"),
    ("en", "stop sending me emails, unsubscribe", "newsletter"),
    ("en", "how do loyalty points work", "loyalty"),
    ("en", "the stove arrived broken", "damaged"),
    ("en", "one item is missing from my order", "missing"),
    ("en", "can I pick up my order in the store", "click_collect"),
    ("pt", "não gostei do casaco, posso pedir o reembolso?", "returns"),
    ("pt", "as botas ficaram pequenas, posso trocar por um número maior", "exchange"),
    ("pt", "quanto tempo demora a entrega", "delivery_times"),
    ("pt", "o envio e gratis?", "shipping_costs"),
    ("pt", "fazem envios para a suíça", "international"),
    ("pt", "onde está a minha encomenda? preciso do número de seguimento", "tracking"),
    ("pt", "quero cancelar a encomenda", "cancel"),
    ("pt", "posso pagar com mbway", "payment"),
    ("pt", "preciso de fatura com nif da empresa", "invoice"),
    ("pt", "qual a validade de um cartão oferta", "gift_cards"),
    ("pt", "o meu código de desconto não dá", "discount"),
    ("pt", "quantos anos de garantia tem uma tenda", "warranty"),
    ("pt", "partiu-se uma vareta da tenda, podem reparar?", "repairs"),
    ("pt", "que saco-cama preciso para o inverno, que temperatura", "sleeping_bags"),
    ("pt", "como lavo o meu casaco de penas", "down_care"),
    ("pt", "o meu casaco já não é impermeável", "reproofing"),
    ("pt", "que tamanho de botas devo comprar", "boot_sizes"),
    ("pt", "posso alugar um caiaque para o fim de semana", "rental"),
    ("pt", "a que horas abre a loja do porto ao domingo", "stores"),
    ("pt", "esqueci-me da palavra passe", "password"),
    ("pt", "apaguem a minha conta e os meus dados por favor", "privacy"),
    ("pt", "não quero receber mais a newsletter", "newsletter"),
    ("pt", "como funcionam os pontos", "loyalty"),
    ("pt", "o fogareiro chegou danificado", "damaged"),
    ("pt", "falta um artigo na encomenda", "missing"),
    ("pt", "posso levantar a encomenda na loja", "click_collect"),
]

#: key -> (English keywords, Portuguese keywords): each article's search keywords, the other
#: words its author expects readers to search with (abbreviations, synonyms, Brazilian words for
#: a Portuguese article), written from the article by the author of the search. Written after
#: the independent questions (tests/kb_questions.py) had been run against the search without
#: them: see docs/benchmarks.md for what they moved.
KEYWORDS: dict[str, tuple[str, str]] = {
    "returns": ("return, send back, money back, refund policy",
                "devolver, devolução, reembolso, dinheiro de volta"),
    "exchange": ("swap, change size, wrong size, too small, too big",
                 "trocar, mudar de tamanho, tamanho errado, pequeno, grande"),
    "delivery_times": ("when will it arrive, dispatch, same day, cut-off time",
                       "quando chega, prazo, expedição, mesmo dia, hora limite"),
    "shipping_costs": ("postage, delivery cost, delivery charge, free delivery, price",
                       "frete, custo de envio, preço do envio, entrega grátis, portes grátis"),
    "international": ("UK, Britain, England, USA, US, America, customs, duties, import fees, "
                      "abroad, worldwide",
                      "Inglaterra, Reino Unido, EUA, América, alfândega, taxas alfandegárias, "
                      "estrangeiro, internacional"),
    "tracking": ("where is my order, where is my parcel, track, tracking number, "
                 "delivery status",
                 "onde está a minha encomenda, rastreio, rastrear, código de rastreio, "
                 "estado da entrega"),
    "cancel": ("cancel order, change order, modify, mistake, undo",
               "anular, cancelar pedido, mudar a encomenda, engano, erro na encomenda"),
    "payment": ("MBWay, MB Way, credit card, debit card, pay, Amex, charged",
                "MBWay, MB Way, cartão de crédito, cartão de débito, pagar, Multibanco, cobrança"),
    "invoice": ("receipt, VAT, tax number, billing, company invoice",
                "nota fiscal, recibo, número de contribuinte, IVA, fatura da empresa"),
    "gift_cards": ("gift voucher, gift certificate, present, validity, expiry",
                   "cartão presente, vale-oferta, cheque-prenda, validade, prenda"),
    "discount": ("coupon, promo code, voucher code, promotion, sale",
                 "cupão, cupom, código promocional, promoção, saldos"),
    "warranty": ("guarantee, defect, faulty", "defeito, avaria"),
    "repairs": ("repair, mend, fix, rip, tear, zipper, broken pole, workshop",
                "consertar, conserto, reparar, arranjar, zíper, fecho éclair, rasgão"),
    "sleeping_bags": ("sleeping bag temperature, comfort rating, warmth, cold",
                      "saco de dormir, temperatura de conforto, frio"),
    "down_care": ("wash, dryer, tumble dry, down coat, puffer, softener",
                  "lavar, máquina de secar, casaco de penas, kispo, amaciador, lavagem"),
    "reproofing": ("reproof, waterproof, DWR, hardshell, rain jacket, water repellent",
                   "impermeabilizar, impermeável, repelente, casaco de chuva"),
    "boot_sizes": ("size chart, shoe size, boot size, conversion, US sizes, UK sizes",
                   "número de calçado, numeração, tamanho do sapato, tabela de tamanhos, "
                   "conversão"),
    "rental": ("rent, hire, borrow, tent hire, kayak hire",
               "alugar, aluguer, aluguel, alugam, locação"),
    "stores": ("opening hours, opening times, closing time, address, shop, Saturday, Sunday",
               "horário, horas de abertura, fecho, morada, endereço, loja física"),
    "password": ("log in, login, sign in, can't log in, forgot password, reset password",
                 "login, entrar, iniciar sessão, esqueci a senha, senha, recuperar senha"),
    "privacy": ("delete account, close account, GDPR, personal data, erase",
                "apagar conta, eliminar conta, RGPD, dados pessoais, encerrar conta"),
    "newsletter": ("unsubscribe, marketing emails, promotional emails, opt out, stop emails",
                   "cancelar subscrição, emails promocionais, publicidade, "
                   "deixar de receber emails"),
    "loyalty": ("loyalty card, rewards, points, member card, club",
                "cartão de cliente, cartão de fidelização, pontos, recompensas, clube"),
    "damaged": ("broken, damaged, defective, crushed box, replacement",
                "partido, quebrado, danificado, estragado, substituição"),
    "missing": ("incomplete order, missing item, not everything arrived, partial delivery, "
                "item not in the box",
                "encomenda incompleta, pedido incompleto, artigo em falta, faltou, "
                "não recebi tudo"),
    "click_collect": ("pick up, collect, in-store pickup, click & collect, collection",
                      "levantar, recolha na loja, ir buscar, retirar na loja, click and collect"),
}
