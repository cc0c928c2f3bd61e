"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "Block Kit layout blocks (https://app.slack.com/block-kit-builder).": (
        "Blocs de mise en page Block Kit (https://app.slack.com/block-kit-builder)."
    ),
    "Blocks": "Blocs",
    (
        "Bot User OAuth Token of your Slack app (starts with xoxb-). Needs the chat:write scope, "
        "and the bot must be a member of private channels it posts to."
    ): (
        "Le jeton OAuth de l’utilisateur bot de votre application Slack (commence par xoxb-). Il "
        "faut la portée chat:write, et le bot doit être membre des canaux privés où il publie."
    ),
    "Bot token": "Jeton du bot",
    "Change only for GovSlack (https://slack-gov.com/api/) or a proxy.": (
        "À changer seulement pour GovSlack (https://slack-gov.com/api/) ou un proxy."
    ),
    "Channel": "Canal",
    (
        "Channel ID (C…, preferred: it survives renames), channel name, or a user ID (U…) for a "
        "direct message from the bot."
    ): (
        "L’identifiant du canal (C…, à privilégier\xa0: il résiste aux renommages), le nom du "
        "canal, ou l’identifiant d’un utilisateur (U…) pour un message direct du bot."
    ),
    "Incoming webhook URL": "URL du webhook entrant",
    "Post a message as your Slack app's bot (needs a bot token).": (
        "Publie un message au nom du bot de votre application Slack (il faut un jeton de bot)."
    ),
    "Post messages to Slack channels, threads and direct messages.": (
        "Publiez des messages dans les canaux, les fils et les messages directs de Slack."
    ),
    "Post to the channel an incoming webhook was created for (needs a webhook URL).": (
        "Publie dans le canal pour lequel un webhook entrant a été créé (il faut l’URL du webhook)."
    ),
    "Reply in thread": "Répondre dans le fil",
    "Send a message": "Envoyer un message",
    "Send a message through an incoming webhook": "Envoyer un message par un webhook entrant",
    "Show previews of images and videos. Slack's default when empty.": (
        "Affiche l’aperçu des images et des vidéos. Comportement par défaut de Slack si vide."
    ),
    "Show previews of the links in the text. Slack's default when empty.": (
        "Affiche l’aperçu des liens du texte. Comportement par défaut de Slack si vide."
    ),
    "Slack": "Slack",
    "Text": "Texte",
    (
        "The message, in Slack mrkdwn. With blocks it is the fallback shown in notifications, so "
        "keep it meaningful."
    ): (
        "Le message, en mrkdwn Slack. Avec des blocs, c’est le texte de secours affiché dans les "
        "notifications\xa0: gardez-le parlant."
    ),
    "The message, in Slack mrkdwn; the notification fallback when blocks are set.": (
        "Le message, en mrkdwn Slack\u202f; le texte de secours des notifications quand des blocs "
        "sont définis."
    ),
    (
        "URL of an incoming webhook, which posts to the one channel chosen when the webhook was "
        "created. Secret: anyone who has it can post."
    ): (
        "L’URL d’un webhook entrant, qui publie dans le seul canal choisi à sa création. "
        "Secrète\xa0: quiconque la connaît peut publier."
    ),
    "Unfurl links": "Déplier les liens",
    "Unfurl media": "Déplier les médias",
    "Web API base URL": "URL de base de la Web API",
    "ts of the parent message, to reply in its thread (e.g. from an earlier step).": (
        "Le ts du message parent, pour répondre dans son fil (par exemple issu d’une étape "
        "précédente)."
    ),
}
