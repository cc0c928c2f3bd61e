"""The Google connectors' texts in French (``Connector.translations``): the connection's,
shared by all four, then each connector's own."""

from __future__ import annotations

__all__ = ["CALENDAR", "CONNECTION", "DRIVE", "GMAIL", "SHEETS"]

#: The Google connection's fields.
CONNECTION: dict[str, str] = {
    "Google": "Google",
    "API endpoint": "Point d’accès de l’API",
    "Access token": "Jeton d’accès",
    "Account email": "E-mail du compte",
    "Act as user": "Agir en tant que",
    "Authorization URL": "URL d’autorisation",
    "Email of the Workspace user the service account impersonates (domain-wide delegation).": (
        "L’e-mail de l’utilisateur Workspace dont le compte de service prend l’identité "
        "(délégation au niveau du domaine)."
    ),
    "From Google Cloud console → APIs & Services → Credentials.": (
        "Depuis la console Google Cloud → API et services → Identifiants."
    ),
    "OAuth client ID": "ID client OAuth",
    "OAuth client secret": "Code secret du client OAuth",
    "OAuth token endpoint. Leave empty for Google's.": (
        "Le point d’accès des jetons OAuth. Laissez vide pour celui de Google."
    ),
    "Optional; refreshed automatically once it expires.": (
        "Facultatif\u202f; renouvelé automatiquement à son expiration."
    ),
    "Refresh token": "Jeton de rafraîchissement",
    "Root URL of the Google APIs (a private endpoint or proxy). Leave empty for Google's.": (
        "L’URL racine des API Google (un point d’accès privé ou un proxy). Laissez vide pour celle "
        "de Google."
    ),
    "Service account key (JSON)": "Clé du compte de service (JSON)",
    "Stored when the account was connected; lets Maillon get access tokens.": (
        "Enregistré lors de la connexion du compte\u202f; permet à Maillon d’obtenir des jetons "
        "d’accès."
    ),
    (
        "The connected account's address, filled in when connecting; Gmail sends from it unless an "
        "action names another sender."
    ): (
        "L’adresse du compte connecté, renseignée à la connexion\u202f; Gmail envoie depuis "
        "celle-ci sauf si une action indique un autre expéditeur."
    ),
    "The content of the JSON key file of a Google Cloud service account.": (
        "Le contenu du fichier de clé JSON d’un compte de service Google Cloud."
    ),
    "Token URL": "URL des jetons",
    "Where users are sent to grant access. Change only for a private gateway.": (
        "L’adresse où les utilisateurs sont envoyés pour autoriser l’accès. À changer seulement "
        "pour une passerelle privée."
    ),
}

#: Gmail's own (its message fields are the mail module's).
GMAIL: dict[str, str] = {
    "Gmail": "Gmail",
    "Send an email": "Envoyer un e-mail",
    "Send an email (plain text and/or HTML) from the connected Gmail account.": (
        "Envoie un e-mail (texte brut et/ou HTML) depuis le compte Gmail connecté."
    ),
    "Send email from a Google account.": "Envoyez des e-mails depuis un compte Google.",
}

#: Google Sheets'.
SHEETS: dict[str, str] = {
    "Add a row to a Google Sheets spreadsheet, by column order or by column header.": (
        "Ajoute une ligne à une feuille de calcul Google Sheets, dans l’ordre des colonnes ou par "
        "en-tête de colonne."
    ),
    "Add rows to Google Sheets spreadsheets.": (
        "Ajoutez des lignes à des feuilles de calcul Google Sheets."
    ),
    "Append a row": "Ajouter une ligne",
    (
        "Either the cells in column order, or a mapping from column header (as written in the "
        "sheet's first row) to value; columns not named stay empty."
    ): (
        "Soit les cellules dans l’ordre des colonnes, soit une correspondance entre en-tête de "
        "colonne (tel qu’écrit sur la première ligne de la feuille) et valeur\u202f; les colonnes "
        "non nommées restent vides."
    ),
    "Google Sheets": "Google Sheets",
    "Name of the tab. Leave empty for the first one.": (
        "Le nom de l’onglet. Laissez vide pour le premier."
    ),
    "Sheet": "Onglet",
    "Spreadsheet": "Feuille de calcul",
    "The spreadsheet's ID, or its URL as copied from the browser.": (
        "L’identifiant de la feuille de calcul, ou son URL telle que copiée depuis le navigateur."
    ),
    (
        "USER_ENTERED parses values as if typed into the sheet: numbers, dates, and formulas for "
        "text starting with '=' (beware of text coming from outside); RAW stores every value as "
        "given."
    ): (
        "USER_ENTERED interprète les valeurs comme si elles étaient saisies dans la feuille\xa0: "
        "nombres, dates, et formules pour le texte commençant par «\xa0=\xa0» (attention au texte "
        "venu de l’extérieur)\u202f; RAW enregistre chaque valeur telle quelle."
    ),
    "Value input": "Saisie des valeurs",
    "Values": "Valeurs",
    "As if typed (numbers, dates, formulas)": "Comme saisies (nombres, dates, formules)",
    "As given (text stays text)": "Telles quelles (le texte reste du texte)",
}

#: Google Calendar's.
CALENDAR: dict[str, str] = {
    (
        "A date and time (with a UTC offset, or with a time zone below), or a date alone for an "
        "all-day event."
    ): (
        "Une date et une heure (avec un décalage UTC, ou avec un fuseau horaire ci-dessous), ou "
        "une date seule pour un événement d’une journée entière."
    ),
    "Add a timed or all-day event to a Google Calendar, optionally with guests.": (
        "Ajoute un événement horaire ou d’une journée entière à un agenda Google, éventuellement "
        "avec des invités."
    ),
    "Attendees": "Invités",
    "Calendar": "Agenda",
    "Create an event": "Créer un événement",
    "Create events in Google Calendar.": "Créez des événements dans Google Agenda.",
    "Description": "Description",
    "End": "Fin",
    "Google Calendar": "Google Agenda",
    "Guests' email addresses: a list or one comma-separated string.": (
        "Les adresses e-mail des invités\xa0: une liste, ou une chaîne séparée par des virgules."
    ),
    "IANA name. Needed when start and end carry no UTC offset.": (
        "Un nom IANA. Nécessaire quand le début et la fin n’ont pas de décalage UTC."
    ),
    "Location": "Lieu",
    (
        "Same kind as the start. For an all-day event, the last day (inclusive). Leave empty for "
        "one hour, or one day for an all-day event."
    ): (
        "De même nature que le début. Pour un événement d’une journée entière, le dernier jour "
        "(inclus). Laissez vide pour une heure, ou un jour pour un événement d’une journée "
        "entière."
    ),
    "Send invitations": "Envoyer les invitations",
    "Start": "Début",
    (
        'The calendar\'s ID (Settings → "Integrate calendar"), or "primary" for the account\'s own '
        "calendar."
    ): (
        "L’identifiant de l’agenda (Paramètres → «\xa0Intégrer l’agenda\xa0»), ou "
        "«\xa0primary\xa0» pour l’agenda du compte lui-même."
    ),
    "Time zone": "Fuseau horaire",
    "Title": "Titre",
    "Whom Google emails an invitation: everyone, guests outside your organization, or nobody.": (
        "À qui Google envoie une invitation par e-mail\xa0: tout le monde, les invités extérieurs "
        "à votre organisation, ou personne."
    ),
    "Everyone": "Tout le monde",
    "Guests outside your organization": "Les invités hors de votre organisation",
    "Nobody": "Personne",
}

#: Google Drive's.
DRIVE: dict[str, str] = {
    "A URL to download (or an earlier step's file), or content as text or base64.": (
        "Une URL à télécharger (ou le fichier d’une étape précédente), ou un contenu en texte ou "
        "en base64."
    ),
    "A larger file fails the step without being uploaded.": (
        "Un fichier plus gros fait échouer l’étape sans être envoyé."
    ),
    "Access": "Accès",
    "Added to the email Google sends.": "Ajouté à l’e-mail envoyé par Google.",
    "Copy a Google Drive file (a template document, for example) and rename it.": (
        "Copie un fichier Google Drive (un document modèle, par exemple) et le renomme."
    ),
    "Copy a file": "Copier un fichier",
    "Create a folder": "Créer un dossier",
    "Create a folder in Google Drive, or find the one of that name in the parent.": (
        "Crée un dossier dans Google Drive, ou retrouve celui de ce nom dans le dossier parent."
    ),
    "Description": "Description",
    "File": "Fichier",
    "File or folder": "Fichier ou dossier",
    "File size limit (bytes)": "Taille maximale du fichier (octets)",
    "Folder": "Dossier",
    "Folder name": "Nom du dossier",
    "Give a person access to a Google Drive file or folder, by email address.": (
        "Donne à une personne l’accès à un fichier ou à un dossier Google Drive, par son adresse "
        "e-mail."
    ),
    "Google Drive": "Google Drive",
    "Leave empty to keep the file's own name.": "Laissez vide pour garder le nom du fichier.",
    "Message": "Message",
    "Name in Drive": "Nom dans Drive",
    "Name of the copy": "Nom de la copie",
    "Parent folder": "Dossier parent",
    "Person": "Personne",
    "Put a file in Google Drive, from a URL, an earlier step's file, or content.": (
        "Dépose un fichier dans Google Drive, depuis une URL, le fichier d’une étape précédente ou "
        "un contenu."
    ),
    "Reuse a folder of that name": "Réutiliser un dossier de ce nom",
    "Send an email": "Envoyer un e-mail",
    "Share a file": "Partager un fichier",
    "The ID or URL of the file to copy.": "L’identifiant ou l’URL du fichier à copier.",
    "The ID or URL of what to share.": "L’identifiant ou l’URL de ce qu’il faut partager.",
    "The email address of the Google account to share with.": (
        "L’adresse e-mail du compte Google avec lequel partager."
    ),
    (
        "The folder's ID or URL (an earlier step's folder ID, for example). Leave empty for My "
        "Drive."
    ): (
        "L’identifiant ou l’URL du dossier (l’identifiant de dossier d’une étape précédente, par "
        "exemple). Laissez vide pour Mon Drive."
    ),
    "The parent folder's ID or URL. Leave empty for My Drive.": (
        "L’identifiant ou l’URL du dossier parent. Laissez vide pour Mon Drive."
    ),
    "Upload a file": "Envoyer un fichier",
    "Upload, copy and share files, and create folders, in Google Drive.": (
        "Envoyez, copiez et partagez des fichiers, et créez des dossiers, dans Google Drive."
    ),
    (
        "When the parent already has a folder of that name, use it instead of creating another "
        "(Drive allows several folders with one name)."
    ): (
        "Quand le dossier parent contient déjà un dossier de ce nom, l’utiliser au lieu d’en créer "
        "un autre (Drive accepte plusieurs dossiers du même nom)."
    ),
    "Where the copy goes (ID or URL). Leave empty for the original's folder.": (
        "L’emplacement de la copie (identifiant ou URL). Laissez vide pour le dossier de "
        "l’original."
    ),
    "Whether Google emails the person a link.": (
        "Si Google envoie un lien par e-mail à la personne."
    ),
    "reader: can view; commenter: can view and comment; writer: can edit.": (
        "reader\xa0: peut voir\u202f; commenter\xa0: peut voir et commenter\u202f; writer\xa0: "
        "peut modifier."
    ),
    "Can view": "Peut consulter",
    "Can view and comment": "Peut consulter et commenter",
    "Can edit": "Peut modifier",
}
