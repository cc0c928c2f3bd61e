"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A language code.": "Un code de langue.",
    "API URL": "URL de l’API",
    "API key": "Clé d’API",
    "Accept missing required merge fields": "Accepter des champs de fusion obligatoires manquants",
    "Add": "Ajouter",
    "Add a person to a Mailchimp audience, or update them, with merge fields and tags.": (
        "Ajoute une personne à une audience Mailchimp, ou la met à jour, avec des champs de fusion "
        "et des tags."
    ),
    "Add or remove tags": "Ajouter ou retirer des tags",
    "Add or update a member": "Ajouter ou mettre à jour un membre",
    "Add people to Mailchimp audiences, tag them, unsubscribe them.": (
        "Ajoutez des personnes à des audiences Mailchimp, taguez-les, désabonnez-les."
    ),
    "Add the member even when a merge field the audience requires is missing.": (
        "Ajouter le membre même quand il manque un champ de fusion exigé par l’audience."
    ),
    "Added to the member (tags it has already are kept): a list, or names separated by commas.": (
        "Ajoutés au membre (ses tags existants sont conservés)\xa0: une liste, ou des noms séparés "
        "par des virgules."
    ),
    "Also changes the status of an existing member. Leave empty to keep it.": (
        "Change aussi le statut d’un membre existant. Laissez vide pour le conserver."
    ),
    "Audience ID": "Identifiant de l’audience",
    "Audience → Settings → Audience name and defaults → Audience ID.": (
        "Audience → Settings → Audience name and defaults → Audience ID."
    ),
    "Authorization URL": "URL d’autorisation",
    "By merge tag, as the audience's settings list them.": (
        "Par balise de fusion, telles que les réglages de l’audience les listent."
    ),
    "Data centre": "Centre de données",
    "Email address": "Adresse e-mail",
    "Filled in when the account is connected with OAuth; it does not expire.": (
        "Renseigné quand le compte est connecté par OAuth\u202f; il n’expire pas."
    ),
    "From Profile → Extras → API keys; it ends with the data centre (-us6).": (
        "Depuis Profile → Extras → API keys\u202f; elle se termine par le centre de données (-us6)."
    ),
    "Language": "Langue",
    "Mailchimp": "Mailchimp",
    "Merge fields": "Champs de fusion",
    "OAuth access token": "Jeton d’accès OAuth",
    "OAuth client ID": "ID client OAuth",
    "OAuth client secret": "Code secret du client OAuth",
    "OAuth metadata URL": "URL des métadonnées OAuth",
    "Remove": "Retirer",
    "Status": "Statut",
    "Status if new": "Statut s’il est nouveau",
    "Stop sending Mailchimp campaigns to a member of an audience.": (
        "Cesse d’envoyer les campagnes Mailchimp à un membre d’une audience."
    ),
    "Tag a member of a Mailchimp audience, or take tags off.": (
        "Ajoute des tags à un membre d’une audience Mailchimp, ou en retire."
    ),
    "Tags": "Tags",
    "The API's root instead of https://<data centre>.api.mailchimp.com/3.0/ (a proxy).": (
        "La racine de l’API à la place de https://<centre de données>.api.mailchimp.com/3.0/ (un "
        "proxy)."
    ),
    (
        "The part before .api.mailchimp.com in the account's URLs (us6). Taken from the API key, "
        "or asked of Mailchimp, when empty."
    ): (
        "La partie avant .api.mailchimp.com dans les URL du compte (us6). Tirée de la clé d’API, "
        "ou demandée à Mailchimp, si vide."
    ),
    "Token URL": "URL des jetons",
    "Unsubscribe a member": "Désabonner un membre",
    "Where the data centre of an OAuth account is asked. Change only for a proxy.": (
        "L’adresse où demander le centre de données d’un compte OAuth. À changer seulement pour un "
        "proxy."
    ),
    (
        "subscribed: receives campaigns at once; pending: Mailchimp first emails a confirmation "
        "link (double opt-in)."
    ): (
        "subscribed\xa0: reçoit les campagnes tout de suite\u202f; pending\xa0: Mailchimp envoie "
        "d’abord un lien de confirmation par e-mail (double opt-in)."
    ),
    "Subscribed": "Abonné",
    "Pending (a confirmation e-mail first)": "En attente (d’abord un e-mail de confirmation)",
    "Unsubscribed": "Désabonné",
    "Transactional (no campaigns)": "Transactionnel (sans campagnes)",
}
