"""The connector's texts in French (``Connector.translations``), besides the message
fields' (:data:`maillon.connectors.mailmessage.MESSAGE_FIELDS_FRENCH`)."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "Attachment size limit (bytes)": "Taille maximale des pièces jointes (octets)",
    "Attachments": "Pièces jointes",
    "CA certificate (PEM)": "Certificat d’autorité (PEM)",
    "Default sender": "Expéditeur par défaut",
    "EHLO name": "Nom EHLO",
    "Email (SMTP)": "E-mail (SMTP)",
    "Files to attach, each given as text or as a URL to download.": (
        "Les fichiers à joindre, chacun donné sous forme de texte ou d’URL à télécharger."
    ),
    "Largest total size of a message's attachments; larger downloads stop.": (
        "La taille totale maximale des pièces jointes d’un message\u202f; les téléchargements plus "
        "gros s’arrêtent."
    ),
    "Leave empty for the usual port of the security mode (587, 465 or 25).": (
        "Laissez vide pour le port habituel du mode de sécurité (587, 465 ou 25)."
    ),
    "Name Maillon gives itself when greeting the server. Leave empty for this machine's name.": (
        "Le nom que Maillon se donne en saluant le serveur. Laissez vide pour le nom de cette "
        "machine."
    ),
    "Password": "Mot de passe",
    "Port": "Port",
    "Security": "Sécurité",
    "Send an email": "Envoyer un e-mail",
    "Send an email (plain text and/or HTML, with attachments) through SMTP.": (
        "Envoie un e-mail (texte brut et/ou HTML, avec pièces jointes) par SMTP."
    ),
    "Send email through an SMTP server.": "Envoyez des e-mails par un serveur SMTP.",
    "Server": "Serveur",
    (
        "Trust this certificate authority (or self-signed certificate) instead of the public ones, "
        "for a server with a private certificate."
    ): (
        "Faire confiance à cette autorité de certification (ou à ce certificat auto-signé) plutôt "
        "qu’aux autorités publiques, pour un serveur au certificat privé."
    ),
    (
        "Turn off only for a test server: without it, anyone on the path can read the password and "
        "the mail."
    ): (
        "À désactiver seulement pour un serveur de test\xa0: sans vérification, n’importe qui sur "
        "le trajet peut lire le mot de passe et le courrier."
    ),
    "Used when an action does not name its own From address.": (
        "Utilisé quand une action n’indique pas sa propre adresse d’expéditeur."
    ),
    "Username": "Nom d’utilisateur",
    "Verify the server certificate": "Vérifier le certificat du serveur",
    (
        "starttls: upgrade a plain connection (port 587); tls: TLS from the first byte (port 465); "
        "none: no encryption (local relays only)."
    ): (
        "starttls\xa0: sécuriser une connexion en clair (port 587)\u202f; tls\xa0: TLS dès le "
        "premier octet (port 465)\u202f; none\xa0: aucun chiffrement (relais locaux seulement)."
    ),
    "STARTTLS (port 587)": "STARTTLS (port 587)",
    "TLS from the first byte (port 465)": "TLS dès le premier octet (port 465)",
    "No encryption (port 25, local relays only)": (
        "Sans chiffrement (port 25, relais locaux seulement)"
    ),
}
