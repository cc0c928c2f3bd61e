"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A URL to download (or an earlier step's file), or content as text or base64.": (
        "Une URL à télécharger (ou le fichier d’une étape précédente), ou un contenu en texte ou "
        "en base64."
    ),
    "A larger file fails the step without being uploaded.": (
        "Un fichier plus gros fait échouer l’étape sans être envoyé."
    ),
    "API URL": "URL de l’API",
    "Accept an existing folder": "Accepter un dossier existant",
    "Access token": "Jeton d’accès",
    "Access token expiry": "Expiration du jeton d’accès",
    "App key": "Clé de l’application",
    "App secret": "Secret de l’application",
    "Authorization URL": "URL d’autorisation",
    "Content API URL": "URL de l’API de contenu",
    "Create a folder": "Créer un dossier",
    "Create a folder in Dropbox, or use the one at that path.": (
        "Crée un dossier dans Dropbox, ou utilise celui qui se trouve à ce chemin."
    ),
    "Create a shared link": "Créer un lien de partage",
    "Do not tell the account's desktop and mobile apps about the new file.": (
        "Ne pas signaler le nouveau fichier aux applications de bureau et mobiles du compte."
    ),
    "Dropbox": "Dropbox",
    "Expires": "Expiration",
    "File": "Fichier",
    "File size limit (bytes)": "Taille maximale du fichier (octets)",
    "Folder": "Dossier",
    "Folder path": "Chemin du dossier",
    "From the Dropbox App Console; needed to renew access tokens.": (
        "Depuis l’App Console de Dropbox\u202f; nécessaire pour renouveler les jetons d’accès."
    ),
    (
        "Generated in the App Console (Settings → Generated access token), or filled in when the "
        "account is connected."
    ): (
        "Généré dans l’App Console (Settings → Generated access token), ou renseigné à la "
        "connexion du compte."
    ),
    "If a file has that name": "Si un fichier porte ce nom",
    "Leave empty for Dropbox's.": "Laissez vide pour celle de Dropbox.",
    "Leave empty to keep the file's own name.": "Laissez vide pour garder le nom du fichier.",
    "Mute notifications": "Désactiver les notifications",
    "Name in Dropbox": "Nom dans Dropbox",
    "Path": "Chemin",
    "Put a file in Dropbox, from a URL, an earlier step's file, or content.": (
        "Dépose un fichier dans Dropbox, depuis une URL, le fichier d’une étape précédente ou un "
        "contenu."
    ),
    "Refresh token": "Jeton de rafraîchissement",
    "Share a Dropbox file or folder by link; an existing link is returned as is.": (
        "Partage un fichier ou un dossier Dropbox par un lien\u202f; un lien existant est renvoyé "
        "tel quel."
    ),
    "Stored when the account is connected; lets Maillon renew the access token.": (
        "Enregistré à la connexion du compte\u202f; permet à Maillon de renouveler le jeton "
        "d’accès."
    ),
    "The file or folder to share (an upload's path, for example).": (
        "Le fichier ou le dossier à partager (le chemin d’un envoi, par exemple)."
    ),
    "The folder to create, with its parents if missing.": (
        "Le dossier à créer, avec ses dossiers parents s’ils manquent."
    ),
    "Token URL": "URL des jetons",
    "Unix time; kept up to date.": "Heure Unix\u202f; tenue à jour.",
    "Upload a file": "Envoyer un fichier",
    "Upload files, create folders and share links in Dropbox.": (
        "Envoyez des fichiers, créez des dossiers et partagez des liens dans Dropbox."
    ),
    "When the folder exists already, use it instead of failing.": (
        "Quand le dossier existe déjà, l’utiliser au lieu d’échouer."
    ),
    (
        "When the link stops working (needs a paid Dropbox plan); UTC unless the time has an "
        "offset."
    ): (
        "Quand le lien cesse de fonctionner (nécessite une offre Dropbox payante)\u202f; en UTC "
        "sauf si l’heure porte un décalage."
    ),
    "Where Dropbox's API calls go. Change only for a proxy.": (
        "L’adresse des appels à l’API de Dropbox. À changer seulement pour un proxy."
    ),
    "Where Dropbox's uploads go. Change only for a proxy.": (
        "L’adresse des envois vers Dropbox. À changer seulement pour un proxy."
    ),
    "Where the file goes; missing folders are created.": (
        "L’emplacement du fichier\u202f; les dossiers manquants sont créés."
    ),
    "Who can open it": "Qui peut l’ouvrir",
    "public: anyone with the link; team: members of the account's team only.": (
        "public\xa0: toute personne ayant le lien\u202f; team\xa0: les membres de l’équipe du "
        "compte seulement."
    ),
    (
        "rename: keep both (Dropbox adds a number to the new one); overwrite: replace it; fail: "
        "fail the step."
    ): (
        "rename\xa0: garder les deux (Dropbox ajoute un numéro au nouveau)\u202f; overwrite\xa0: "
        "le remplacer\u202f; fail\xa0: faire échouer l’étape."
    ),
    "Keep both (the new one is renamed)": "Garder les deux (le nouveau est renommé)",
    "Replace it": "Le remplacer",
    "Fail the step": "Faire échouer l’étape",
    "Anyone with the link": "Toute personne ayant le lien",
    "The account's team only": "L’équipe du compte seulement",
}
