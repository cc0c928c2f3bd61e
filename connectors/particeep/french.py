"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A user, transaction, fundraise or document event on a Particeep account.": (
        "Un événement sur un utilisateur, une transaction, une levée de fonds ou un document d’un "
        "compte Particeep."
    ),
    "API key": "Clé d’API",
    "API secret": "Secret d’API",
    "Custom base URL": "URL de base personnalisée",
    "Custom fields": "Champs personnalisés",
    "Environment": "Environnement",
    "Get a transaction": "Lire une transaction",
    "Get a user": "Lire un utilisateur",
    "How long to wait for Particeep's answer to one call.": (
        "Combien de temps attendre la réponse de Particeep à un appel."
    ),
    (
        "Investment and crowdfunding platform: react to its users and transactions, read and tag "
        "them."
    ): (
        "Plateforme d’investissement et de financement participatif\xa0: réagissez à ses "
        "utilisateurs et à ses transactions, lisez-les et étiquetez-les."
    ),
    "Keep other custom fields": "Conserver les autres champs personnalisés",
    "Keys to set in the user's custom data.": (
        "Les clés à définir dans les données personnalisées de l’utilisateur."
    ),
    (
        "Only for the custom environment, e.g. a proxy or a local fake API. Include the version "
        "path."
    ): (
        "Uniquement pour l’environnement personnalisé, par exemple un proxy ou une fausse API "
        "locale. Incluez le chemin de version."
    ),
    "Particeep": "Particeep",
    "Particeep event": "Événement Particeep",
    "Particeep's id of the transaction.": "L’identifiant Particeep de la transaction.",
    "Particeep's id of the user to change.": "L’identifiant Particeep de l’utilisateur à modifier.",
    "Particeep's id of the user; from a transaction it is usually {{ event.issuer_id }}.": (
        "L’identifiant Particeep de l’utilisateur\u202f; depuis une transaction, c’est en général "
        "{{ event.issuer_id }}."
    ),
    "Particeep's production or test platform, or a custom base URL.": (
        "La plateforme de production ou de test de Particeep, ou une URL de base personnalisée."
    ),
    "Read one Particeep transaction by id: amount (cents), status, investor.": (
        "Lit une transaction Particeep par son identifiant\xa0: montant (en centimes), statut, "
        "investisseur."
    ),
    "Read one Particeep user by id: name, email, phone, tag, custom fields.": (
        "Lit un utilisateur Particeep par son identifiant\xa0: nom, e-mail, téléphone, tag, champs "
        "personnalisés."
    ),
    (
        "Read the user first and keep the custom keys not given here. Turn off to replace the "
        "custom data as a whole."
    ): (
        "Lit d’abord l’utilisateur et conserve les clés personnalisées non indiquées ici. "
        "Désactivez pour remplacer entièrement les données personnalisées."
    ),
    "Replaces the user's tag. Leave empty to keep it.": (
        "Remplace le tag de l’utilisateur. Laissez vide pour le conserver."
    ),
    "Set the tag and/or custom fields of a Particeep user.": (
        "Définit le tag et/ou les champs personnalisés d’un utilisateur Particeep."
    ),
    "Tag": "Tag",
    "The public half of the key pair (Particeep back office, API menu).": (
        "La moitié publique de la paire de clés (back-office Particeep, menu API)."
    ),
    "The secret half of the key pair. Stored encrypted; never shown again.": (
        "La moitié secrète de la paire de clés. Conservée chiffrée\u202f; jamais réaffichée."
    ),
    "Timeout (seconds)": "Délai d’attente (secondes)",
    "Transaction ID": "Identifiant de la transaction",
    "Update a user": "Modifier un utilisateur",
    "User ID": "Identifiant de l’utilisateur",
    "Production": "Production",
    "Test platform": "Plateforme de test",
}
