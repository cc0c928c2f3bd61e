"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "API domain": "Domaine de l’API",
    "API version": "Version de l’API",
    "Access token": "Jeton d’accès",
    "Access token expiry (epoch seconds)": "Expiration du jeton d’accès (secondes Unix)",
    "Add a lead, contact, account, deal or custom record to Zoho CRM.": (
        "Ajoute une piste, un contact, un compte, une affaire ou un enregistrement personnalisé à "
        "Zoho CRM."
    ),
    "Add a note": "Ajouter une note",
    "Add a note to a Zoho CRM record.": "Ajoute une note à un enregistrement Zoho CRM.",
    "An exact value, or its beginning.": "Une valeur exacte, ou son début.",
    "At most": "Au plus",
    "Authorization URL": "URL d’autorisation",
    "Change fields of a Zoho CRM record.": "Modifie les champs d’un enregistrement Zoho CRM.",
    "Create a record": "Créer un enregistrement",
    "Create or update a record by a key": "Créer ou mettre à jour un enregistrement par une clé",
    "Create, update, upsert and search records of any Zoho CRM module; add notes.": (
        "Créez, modifiez, créez-ou-modifiez et recherchez des enregistrements de tout module Zoho "
        "CRM\u202f; ajoutez des notes."
    ),
    "Data centre": "Centre de données",
    "Field": "Champ",
    (
        "Field values by their API name (as the CRM's settings show it), custom fields included. A "
        'lookup takes an ID: {"Contact_Name": "..."}.'
    ): (
        "Les valeurs des champs par leur nom d’API (tel que les réglages du CRM l’affichent), "
        'champs personnalisés compris. Une recherche prend un identifiant\xa0: {"Contact_Name": '
        '"..."}.'
    ),
    "Fields": "Champs",
    (
        "Filled when connecting (Zoho names it). Set it to reach Zoho through a proxy; otherwise "
        "leave it empty."
    ): (
        "Renseigné à la connexion (Zoho le nomme). Définissez-le pour joindre Zoho par un "
        "proxy\u202f; sinon laissez-le vide."
    ),
    "Find records": "Trouver des enregistrements",
    "How many records to return.": "Le nombre d’enregistrements à renvoyer.",
    "Key field": "Champ clé",
    "Match": "Correspondance",
    "Module": "Module",
    "Note": "Note",
    "OAuth client ID": "ID client OAuth",
    "OAuth client secret": "Code secret du client OAuth",
    "Record ID": "Identifiant de l’enregistrement",
    "Refresh token": "Jeton de rafraîchissement",
    "Run automations": "Lancer les automatisations",
    "Search Zoho CRM records whose field equals (or starts with) a value.": (
        "Recherche les enregistrements Zoho CRM dont un champ est égal à une valeur (ou commence "
        "par elle)."
    ),
    (
        "The field that identifies the record, by API name: Email, or a unique custom field such "
        "as the one holding the Particeep user ID. It must be among the fields."
    ): (
        "Le champ qui identifie l’enregistrement, par nom d’API\xa0: Email, ou un champ "
        "personnalisé unique comme celui qui contient l’identifiant d’utilisateur Particeep. Il "
        "doit figurer parmi les champs."
    ),
    "The field to search, by API name.": "Le champ où chercher, par nom d’API.",
    "The module's API name: Leads, Contacts, Accounts, Deals, or a custom one.": (
        "Le nom d’API du module\xa0: Leads, Contacts, Accounts, Deals, ou un module personnalisé."
    ),
    "The note's text.": "Le texte de la note.",
    "The note's title.": "Le titre de la note.",
    "The value it must have.": "La valeur qu’il doit avoir.",
    "Title": "Titre",
    "Token URL": "URL des jetons",
    "Update a record": "Modifier un enregistrement",
    (
        "Update the Zoho CRM record whose key field (Email, a unique custom field) has the given "
        "value, or create it if there is none."
    ): (
        "Modifie l’enregistrement Zoho CRM dont le champ clé (Email, un champ personnalisé unique) "
        "a la valeur donnée, ou le crée s’il n’y en a pas."
    ),
    "Value": "Valeur",
    (
        "Where the Zoho account lives: the domain of its address (crm.zoho.eu → zoho.eu; Canada is "
        "zohocloud.ca)."
    ): (
        "Où se trouve le compte Zoho\xa0: le domaine de son adresse (crm.zoho.eu → zoho.eu\u202f; "
        "pour le Canada, zohocloud.ca)."
    ),
    "Where tokens are granted; the data centre's unless set (a gateway).": (
        "L’adresse où les jetons sont délivrés\u202f; celle du centre de données si vide (une "
        "passerelle)."
    ),
    "Where users grant access; the data centre's unless set (a gateway).": (
        "L’adresse où les utilisateurs autorisent l’accès\u202f; celle du centre de données si "
        "vide (une passerelle)."
    ),
    (
        "Which of the organization's automations the write runs: workflow rules, approvals, "
        "blueprints. Empty: Zoho's default; an empty list runs none."
    ): (
        "Les automatisations de l’organisation que l’écriture déclenche\xa0: règles de workflow, "
        "approbations, blueprints. Vide\xa0: le comportement par défaut de Zoho\u202f; une liste "
        "vide n’en lance aucune."
    ),
    "Zoho CRM": "Zoho CRM",
    "Zoho CRM's REST API version.": "La version de l’API REST de Zoho CRM.",
    "Zoho's ID of the record.": "L’identifiant Zoho de l’enregistrement.",
    "Equals": "Égal à",
    "Starts with": "Commence par",
    "United States (zoho.com)": "États-Unis (zoho.com)",
    "Europe (zoho.eu)": "Europe (zoho.eu)",
    "India (zoho.in)": "Inde (zoho.in)",
    "Australia (zoho.com.au)": "Australie (zoho.com.au)",
    "Japan (zoho.jp)": "Japon (zoho.jp)",
    "Canada (zohocloud.ca)": "Canada (zohocloud.ca)",
    "Saudi Arabia (zoho.sa)": "Arabie saoudite (zoho.sa)",
    "China (zoho.com.cn)": "Chine (zoho.com.cn)",
}
