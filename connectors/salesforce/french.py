"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A whole SOQL query, instead of an object, a field and a value.": (
        "Une requête SOQL complète, au lieu d’un objet, d’un champ et d’une valeur."
    ),
    "API names of the fields each record brings back.": (
        "Les noms d’API des champs que renvoie chaque enregistrement."
    ),
    "API version": "Version de l’API",
    "Access token": "Jeton d’accès",
    "Access token expiry (epoch seconds)": "Expiration du jeton d’accès (secondes Unix)",
    "At most": "Au plus",
    "Change fields of a Salesforce record.": "Modifie les champs d’un enregistrement Salesforce.",
    "Comments": "Commentaires",
    "Consumer key": "Clé client (consumer key)",
    "Consumer secret": "Secret client (consumer secret)",
    "Create a contact, lead, account, opportunity or any sObject record.": (
        "Crée un contact, une piste, un compte, une opportunité ou tout enregistrement de sObject."
    ),
    "Create a record": "Créer un enregistrement",
    "Create or update a record by a key": "Créer ou mettre à jour un enregistrement par une clé",
    (
        "Create, update, upsert and query sObject records (contacts, leads, opportunities, custom "
        "objects); log activities."
    ): (
        "Créez, modifiez, créez-ou-modifiez et interrogez des enregistrements de sObjects "
        "(contacts, pistes, opportunités, objets personnalisés)\u202f; consignez des activités."
    ),
    "Field": "Champ",
    (
        "Field values by their API name (as the CRM's settings show it), custom fields included. "
        "Custom fields end in __c."
    ): (
        "Les valeurs des champs par leur nom d’API (tel que les réglages du CRM l’affichent), "
        "champs personnalisés compris. Les champs personnalisés se terminent par __c."
    ),
    "Fields": "Champs",
    "Fields to return": "Champs à renvoyer",
    "Find Salesforce records whose field has a value, or run a SOQL query.": (
        "Trouve les enregistrements Salesforce dont un champ a une valeur, ou exécute une requête "
        "SOQL."
    ),
    "Find records": "Trouver des enregistrements",
    "How many records to return.": "Le nombre d’enregistrements à renvoyer.",
    "Instance URL": "URL de l’instance",
    "Integration user": "Utilisateur d’intégration",
    "JWT bearer flow: the private key of the certificate uploaded to the connected app.": (
        "Flux JWT bearer\xa0: la clé privée du certificat déposé dans l’application connectée."
    ),
    "JWT bearer flow: the username Maillon acts as, pre-authorized in the connected app.": (
        "Flux JWT bearer\xa0: le nom d’utilisateur au nom duquel Maillon agit, pré-autorisé dans "
        "l’application connectée."
    ),
    "Key field": "Champ clé",
    "Key is an External ID field": "La clé est un champ External ID",
    "Key value": "Valeur de la clé",
    "Log a completed activity (a Task) on a Salesforce contact, lead or record.": (
        "Consigne une activité terminée (une tâche) sur un contact, une piste ou un enregistrement "
        "Salesforce."
    ),
    "Log an activity": "Consigner une activité",
    "Login URL": "URL de connexion",
    "Object": "Objet",
    (
        "On: Salesforce's own upsert, in one atomic call (the field must be marked External ID). "
        "Off: the record is looked up with SOQL, then updated or created."
    ): (
        "Activé\xa0: l’upsert de Salesforce, en un seul appel atomique (le champ doit être marqué "
        "External ID). Désactivé\xa0: l’enregistrement est cherché en SOQL, puis modifié ou créé."
    ),
    "Private key (PEM)": "Clé privée (PEM)",
    "Record ID": "Identifiant de l’enregistrement",
    "Refresh token": "Jeton de rafraîchissement",
    "SOQL query": "Requête SOQL",
    "Salesforce": "Salesforce",
    "Salesforce's REST API version.": "La version de l’API REST de Salesforce.",
    "Status": "Statut",
    "Subject": "Objet",
    "The activity's subject.": "L’objet de l’activité.",
    "The activity's text.": "Le texte de l’activité.",
    "The connected app's consumer key.": "La clé client de l’application connectée.",
    "The connected app's consumer secret (OAuth only).": (
        "Le secret client de l’application connectée (OAuth seulement)."
    ),
    (
        "The field that identifies the record: Email, or an External ID field such as "
        "Particeep_User_Id__c."
    ): (
        "Le champ qui identifie l’enregistrement\xa0: Email, ou un champ External ID comme "
        "Particeep_User_Id__c."
    ),
    "The field to match.": "Le champ à comparer.",
    "The key's value for this record; set on the record when it is created.": (
        "La valeur de la clé pour cet enregistrement\u202f; définie sur l’enregistrement à sa "
        "création."
    ),
    "The org's address, filled when connecting. Set it to reach the org through a proxy.": (
        "L’adresse de l’organisation, renseignée à la connexion. Définissez-la pour joindre "
        "l’organisation par un proxy."
    ),
    "The record's 15- or 18-character Salesforce ID.": (
        "L’identifiant Salesforce de l’enregistrement, de 15 ou 18 caractères."
    ),
    "The sObject to search (with a field and a value), e.g. Contact.": (
        "Le sObject où chercher (avec un champ et une valeur), par exemple Contact."
    ),
    (
        "The sObject's API name: Contact, Lead, Account, Opportunity, or a custom one "
        "(Investment__c)."
    ): (
        "Le nom d’API du sObject\xa0: Contact, Lead, Account, Opportunity, ou un objet "
        "personnalisé (Investment__c)."
    ),
    "The task's status, as the org's picklist names it.": (
        "Le statut de la tâche, tel que le nomme la liste de sélection de l’organisation."
    ),
    "The value the field must have.": "La valeur que le champ doit avoir.",
    "Update a record": "Modifier un enregistrement",
    (
        "Update the Salesforce record whose key field (Email, an External ID) has the given value, "
        "or create it if there is none."
    ): (
        "Modifie l’enregistrement Salesforce dont le champ clé (Email, un External ID) a la valeur "
        "donnée, ou le crée s’il n’y en a pas."
    ),
    "Value": "Valeur",
    (
        "https://login.salesforce.com for production, https://test.salesforce.com for a sandbox, "
        "or your My Domain URL."
    ): (
        "https://login.salesforce.com pour la production, https://test.salesforce.com pour une "
        "sandbox, ou l’URL de votre My Domain."
    ),
}
