"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A secret of the app registration (its value).": (
        "Un secret de l’inscription d’application (sa valeur)."
    ),
    "A whole $filter expression, instead of a column and a value.": (
        "Une expression $filter complète, au lieu d’une colonne et d’une valeur."
    ),
    "Add a note": "Ajouter une note",
    "Add a note to the timeline of a Dynamics 365 record.": (
        "Ajoute une note à la chronologie d’un enregistrement Dynamics 365."
    ),
    "Add a row to a Dynamics 365 table: a contact, an account, an opportunity.": (
        "Ajoute une ligne à une table Dynamics 365\xa0: un contact, un compte, une opportunité."
    ),
    "Alternate key": "Clé secondaire",
    "Application (client) ID": "ID d’application (client)",
    "At most": "Au plus",
    "Change columns of a Dynamics 365 row.": "Modifie les colonnes d’une ligne Dynamics 365.",
    "Client secret": "Secret client",
    "Column": "Colonne",
    "Columns": "Colonnes",
    "Columns to return": "Colonnes à renvoyer",
    "Create a record": "Créer un enregistrement",
    "Create or update a record by a key": "Créer ou mettre à jour un enregistrement par une clé",
    (
        "Create, update, upsert by alternate key and query Dataverse rows (contacts, accounts, "
        "opportunities); add notes."
    ): (
        "Créez, modifiez, créez-ou-modifiez par clé secondaire et interrogez des lignes Dataverse "
        "(contacts, comptes, opportunités)\u202f; ajoutez des notes."
    ),
    "Environment URL": "URL de l’environnement",
    (
        "Field values by their API name (as the CRM's settings show it), custom fields included. A "
        'lookup is set with @odata.bind: {"parentcustomerid_account@odata.bind": '
        '"/accounts(<id>)"}.'
    ): (
        "Les valeurs des champs par leur nom d’API (tel que les réglages du CRM l’affichent), "
        "champs personnalisés compris. Une recherche se définit avec @odata.bind\xa0: "
        '{"parentcustomerid_account@odata.bind": "/accounts(<id>)"}.'
    ),
    "Find Dynamics 365 rows whose column has a value, or that match a filter.": (
        "Trouve les lignes Dynamics 365 dont une colonne a une valeur, ou qui correspondent à un "
        "filtre."
    ),
    "Find records": "Trouver des enregistrements",
    "From the app registration's overview in Microsoft Entra.": (
        "Depuis la vue d’ensemble de l’inscription d’application dans Microsoft Entra."
    ),
    "How many records to return.": "Le nombre d’enregistrements à renvoyer.",
    "Logical names of the columns each record brings back (all when empty).": (
        "Les noms logiques des colonnes que renvoie chaque enregistrement (toutes si vide)."
    ),
    "Microsoft Dynamics 365": "Microsoft Dynamics 365",
    (
        "Microsoft's sign-in service; another one for a national cloud "
        "(https://login.microsoftonline.us)."
    ): (
        "Le service de connexion de Microsoft\u202f; un autre pour un cloud national "
        "(https://login.microsoftonline.us)."
    ),
    "Note": "Note",
    "OData filter": "Filtre OData",
    "Only when it is not the entity set without its plural (contacts → contact).": (
        "Seulement quand ce n’est pas le jeu d’entités sans son pluriel (contacts → contact)."
    ),
    (
        "Only when it is not the entity set without its plural (contacts → contact): names the ID "
        "column, <table>id."
    ): (
        "Seulement quand ce n’est pas le jeu d’entités sans son pluriel (contacts → contact)\xa0: "
        "nomme la colonne d’identifiant, <table>id."
    ),
    "Record ID": "Identifiant de l’enregistrement",
    "Sign-in host": "Hôte de connexion",
    "Table": "Table",
    "Table logical name": "Nom logique de la table",
    "Tenant": "Locataire (tenant)",
    "The Microsoft Entra directory (tenant) ID, or its domain.": (
        "L’ID de l’annuaire Microsoft Entra (locataire), ou son domaine."
    ),
    "The column to match.": "La colonne à comparer.",
    (
        "The columns of an alternate key of the table and their values (Settings → Tables → the "
        "table → Keys): emailaddress1, or a column holding the Particeep user ID."
    ): (
        "Les colonnes d’une clé secondaire de la table et leurs valeurs (Paramètres → Tables → la "
        "table → Clés)\xa0: emailaddress1, ou une colonne qui contient l’identifiant d’utilisateur "
        "Particeep."
    ),
    "The environment's address, as Power Platform shows it.": (
        "L’adresse de l’environnement, telle que Power Platform l’affiche."
    ),
    "The note's text.": "Le texte de la note.",
    "The note's title.": "Le titre de la note.",
    "The record's GUID.": "Le GUID de l’enregistrement.",
    (
        "The table's entity set name, as the Web API names it: contacts, accounts, leads, "
        "opportunities, or a custom one (new_investments)."
    ): (
        "Le nom du jeu d’entités de la table, tel que la Web API le nomme\xa0: contacts, accounts, "
        "leads, opportunities, ou une table personnalisée (new_investments)."
    ),
    "The value the column must have.": "La valeur que la colonne doit avoir.",
    "Title": "Titre",
    "Update a record": "Modifier un enregistrement",
    (
        "Update the Dynamics 365 row whose alternate key (an email, an external ID) has the given "
        "values, or create it if there is none."
    ): (
        "Modifie la ligne Dynamics 365 dont la clé secondaire (un e-mail, un identifiant externe) "
        "a les valeurs données, ou la crée s’il n’y en a pas."
    ),
    "Value": "Valeur",
    "Web API URL": "URL de la Web API",
    "Web API version": "Version de la Web API",
    "Where the Web API is called, the environment's unless set (a proxy).": (
        "L’adresse où la Web API est appelée\u202f; celle de l’environnement si vide (un proxy)."
    ),
}
