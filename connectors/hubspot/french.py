"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    (
        "A unique property the Record ID is a value of (email for contacts); empty for HubSpot's "
        "record ID."
    ): (
        "Une propriété unique dont l’identifiant d’enregistrement est une valeur (email pour les "
        "contacts)\u202f; vide pour l’identifiant HubSpot de l’enregistrement."
    ),
    "API URL": "URL de l’API",
    "Access token": "Jeton d’accès",
    "Access token expiry (epoch seconds)": "Expiration du jeton d’accès (secondes Unix)",
    "Add a note": "Ajouter une note",
    "Add a note to the timeline of a HubSpot contact, company or deal.": (
        "Ajoute une note à l’historique d’un contact, d’une entreprise ou d’une transaction "
        "HubSpot."
    ),
    "Association type ID": "Identifiant du type d’association",
    "At most": "Au plus",
    "Authorization URL": "URL d’autorisation",
    "Change properties of a HubSpot record.": "Modifie les propriétés d’un enregistrement HubSpot.",
    "Comparison": "Comparaison",
    "Create a HubSpot contact, company, deal or custom object record.": (
        "Crée un contact, une entreprise, une transaction ou un enregistrement d’objet "
        "personnalisé HubSpot."
    ),
    "Create a record": "Créer un enregistrement",
    "Create or update a record by a key": "Créer ou mettre à jour un enregistrement par une clé",
    (
        "Create, update, upsert and search contacts, companies, deals and custom objects, linked "
        "to each other; add notes."
    ): (
        "Créez, modifiez, créez-ou-modifiez et recherchez des contacts, entreprises, transactions "
        "et objets personnalisés, liés entre eux\u202f; ajoutez des notes."
    ),
    "EQ: equal to (not case-sensitive).": "EQ\xa0: égal à (sans distinction de casse).",
    (
        "Field values by their API name (as the CRM's settings show it), custom fields included. "
        "(property internal names)."
    ): (
        "Les valeurs des champs par leur nom d’API (tel que les réglages du CRM l’affichent), "
        "champs personnalisés compris. (noms internes des propriétés)."
    ),
    "Find HubSpot records whose property has (or compares with) a value.": (
        "Trouve les enregistrements HubSpot dont une propriété a une valeur (ou se compare à elle)."
    ),
    "Find it by": "Le trouver par",
    "Find records": "Trouver des enregistrements",
    "How many records to return.": "Le nombre d’enregistrements à renvoyer.",
    "HubSpot": "HubSpot",
    "HubSpot's API root; change it only for a proxy.": (
        "La racine de l’API HubSpot\u202f; à changer seulement pour un proxy."
    ),
    "Internal names of the properties each record brings back (HubSpot's defaults when empty).": (
        "Les noms internes des propriétés que renvoie chaque enregistrement (celles de HubSpot par "
        "défaut si vide)."
    ),
    "Key property": "Propriété clé",
    "Key value": "Valeur de la clé",
    "Links": "Liens",
    "Note": "Note",
    "OAuth client ID": "ID client OAuth",
    "OAuth client secret": "Code secret du client OAuth",
    "Object type": "Type d’objet",
    "Only for custom objects: the note-to-object association type.": (
        "Seulement pour les objets personnalisés\xa0: le type d’association entre la note et "
        "l’objet."
    ),
    "Private app token": "Jeton d’application privée",
    "Properties": "Propriétés",
    "Properties to return": "Propriétés à renvoyer",
    "Property": "Propriété",
    "Record ID": "Identifiant de l’enregistrement",
    "Records to link the new one to (a deal's contact and company).": (
        "Les enregistrements auxquels lier le nouveau (le contact et l’entreprise d’une "
        "transaction)."
    ),
    "Refresh token": "Jeton de rafraîchissement",
    "The ID of the record the note is about.": (
        "L’identifiant de l’enregistrement que concerne la note."
    ),
    (
        "The access token of a private app (pat-...), with the crm.objects scopes the flows need. "
        "Leave empty to connect with OAuth instead."
    ): (
        "Le jeton d’accès d’une application privée (pat-...), avec les portées crm.objects dont "
        "les flux ont besoin. Laissez vide pour vous connecter plutôt par OAuth."
    ),
    "The key's value for this record.": "La valeur de la clé pour cet enregistrement.",
    "The note's text; HubSpot accepts simple HTML.": (
        "Le texte de la note\u202f; HubSpot accepte du HTML simple."
    ),
    "The property to match.": "La propriété à comparer.",
    "The record's ID, or its value of the unique property below.": (
        "L’identifiant de l’enregistrement, ou sa valeur de la propriété unique ci-dessous."
    ),
    "The value to compare with.": "La valeur à laquelle comparer.",
    "Token URL": "URL des jetons",
    "Update a record": "Modifier un enregistrement",
    (
        "Update the HubSpot record whose key property (email, a unique property) has the given "
        "value, or create it if there is none."
    ): (
        "Modifie l’enregistrement HubSpot dont la propriété clé (email, une propriété unique) a la "
        "valeur donnée, ou le crée s’il n’y en a pas."
    ),
    "Value": "Valeur",
    "Where tokens are granted; HubSpot's unless set (a gateway).": (
        "L’adresse où les jetons sont délivrés\u202f; celle de HubSpot si vide (une passerelle)."
    ),
    "Where users grant access; HubSpot's unless set (a gateway).": (
        "L’adresse où les utilisateurs autorisent l’accès\u202f; celle de HubSpot si vide (une "
        "passerelle)."
    ),
    "contacts, companies, deals, or a custom object's type (2-1234567).": (
        "contacts, companies, deals, ou le type d’un objet personnalisé (2-1234567)."
    ),
    (
        "email for contacts, or a property whose values are unique (such as one holding the "
        "Particeep user ID)."
    ): (
        "email pour les contacts, ou une propriété aux valeurs uniques (comme celle qui contient "
        "l’identifiant d’utilisateur Particeep)."
    ),
    "equal to (not case-sensitive)": "égal à (sans tenir compte de la casse)",
    "not equal to": "différent de",
    "contains the word": "contient le mot",
    "greater than": "supérieur à",
    "at least": "au moins",
    "less than": "inférieur à",
    "at most": "au plus",
    "has a value": "a une valeur",
}
