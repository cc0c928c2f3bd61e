"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "API URL": "URL de l’API",
    "API token": "Jeton d’API",
    "Access token": "Jeton d’accès",
    "Access token expiry (epoch seconds)": "Expiration du jeton d’accès (secondes Unix)",
    "Add a note": "Ajouter une note",
    "Add a note to a Pipedrive person, organization or deal.": (
        "Ajoute une note à une personne, une organisation ou une affaire Pipedrive."
    ),
    "Add a person, an organization or a deal to Pipedrive.": (
        "Ajoute une personne, une organisation ou une affaire à Pipedrive."
    ),
    "At most": "Au plus",
    "Authorization URL": "URL d’autorisation",
    "Change fields of a Pipedrive person, organization or deal.": (
        "Modifie les champs d’une personne, d’une organisation ou d’une affaire Pipedrive."
    ),
    "Company domain": "Domaine de l’entreprise",
    "Create a record": "Créer un enregistrement",
    "Create or update a record by a key": "Créer ou mettre à jour un enregistrement par une clé",
    (
        "Custom field values by the field's 40-character API key. Field values by their API name "
        "(as the CRM's settings show it), custom fields included."
    ): (
        "Les valeurs des champs personnalisés par la clé d’API du champ (40 caractères). Les "
        "valeurs des champs par leur nom d’API (tel que les réglages du CRM l’affichent), champs "
        "personnalisés compris."
    ),
    "Custom fields": "Champs personnalisés",
    "Exact match": "Correspondance exacte",
    "Fields": "Champs",
    (
        "Filled when connecting with OAuth (the company's API domain). Set it to reach Pipedrive "
        "through a proxy; otherwise leave it empty."
    ): (
        "Renseignée lors de la connexion par OAuth (le domaine d’API de l’entreprise). "
        "Définissez-la pour joindre Pipedrive par un proxy\u202f; sinon laissez-la vide."
    ),
    (
        "Find a person, organization or deal by email or another key; update it, or create it if "
        "none has that key."
    ): (
        "Trouve une personne, une organisation ou une affaire par e-mail ou une autre clé\u202f; "
        "la modifie, ou la crée si aucune n’a cette clé."
    ),
    "Find records": "Trouver des enregistrements",
    "How many records to return.": "Le nombre d’enregistrements à renvoyer.",
    "In field": "Dans le champ",
    "Key field": "Champ clé",
    "Key value": "Valeur de la clé",
    "Note": "Note",
    "OAuth client ID": "ID client OAuth",
    "OAuth client secret": "Code secret du client OAuth",
    "Only whole, exact matches (not case-sensitive).": (
        "Seulement les correspondances entières et exactes (sans distinction de casse)."
    ),
    "Persons (contacts), organizations or deals.": (
        "Des personnes (contacts), des organisations ou des affaires."
    ),
    "Pin the note to the top of the record.": "Épingler la note en haut de l’enregistrement.",
    "Pinned": "Épinglée",
    "Pipedrive": "Pipedrive",
    "Pipedrive's ID of the record.": "L’identifiant Pipedrive de l’enregistrement.",
    "Record ID": "Identifiant de l’enregistrement",
    "Record type": "Type d’enregistrement",
    "Refresh token": "Jeton de rafraîchissement",
    "Sales CRM: create, update and find persons, organizations and deals; add notes.": (
        "CRM commercial\xa0: créez, modifiez et trouvez des personnes, des organisations et des "
        "affaires\u202f; ajoutez des notes."
    ),
    "Search Pipedrive persons, organizations or deals by a field's value.": (
        "Recherche des personnes, organisations ou affaires Pipedrive par la valeur d’un champ."
    ),
    "Search for": "Rechercher",
    (
        "Search only this field: email, name, phone, notes, or a custom field's API key. Empty: "
        "every searchable field."
    ): (
        "Ne chercher que dans ce champ\xa0: email, name, phone, notes, ou la clé d’API d’un champ "
        "personnalisé. Vide\xa0: tous les champs consultables."
    ),
    (
        "Standard fields by API name (name, emails, phones, org_id, title, value, currency, "
        "person_id, ...), in the shape of Pipedrive's API v2."
    ): (
        "Les champs standard par nom d’API (name, emails, phones, org_id, title, value, currency, "
        "person_id, ...), sous la forme de l’API v2 de Pipedrive."
    ),
    "The key's value for this record; sent with the fields when it is created.": (
        "La valeur de la clé pour cet enregistrement\u202f; envoyée avec les champs à sa création."
    ),
    "The note's text; Pipedrive accepts simple HTML.": (
        "Le texte de la note\u202f; Pipedrive accepte du HTML simple."
    ),
    "The part before .pipedrive.com in your Pipedrive address.": (
        "La partie avant .pipedrive.com dans votre adresse Pipedrive."
    ),
    "The value to look for.": "La valeur à chercher.",
    "Token URL": "URL des jetons",
    "Update a record": "Modifier un enregistrement",
    (
        "What identifies the record: email (persons), name, or a custom field's 40-character API "
        "key (for example the one holding the Particeep user ID)."
    ): (
        "Ce qui identifie l’enregistrement\xa0: email (personnes), name, ou la clé d’API d’un "
        "champ personnalisé (40 caractères\u202f; par exemple celui qui contient l’identifiant "
        "d’utilisateur Particeep)."
    ),
    "Where tokens are granted; Pipedrive's unless set (a gateway).": (
        "L’adresse où les jetons sont délivrés\u202f; celle de Pipedrive si vide (une passerelle)."
    ),
    "Where users grant access; Pipedrive's unless set (a gateway).": (
        "L’adresse où les utilisateurs autorisent l’accès\u202f; celle de Pipedrive si vide (une "
        "passerelle)."
    ),
    (
        "Your personal token: Pipedrive → Personal preferences → API. Leave empty to connect with "
        "OAuth instead."
    ): (
        "Votre jeton personnel\xa0: Pipedrive → Préférences personnelles → API. Laissez vide pour "
        "vous connecter plutôt par OAuth."
    ),
    "Persons": "Personnes",
    "Organizations": "Organisations",
    "Deals": "Affaires",
}
