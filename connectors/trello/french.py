"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "A date and time; UTC unless it has an offset.": (
        "Une date et une heure\u202f; en UTC sauf si elle porte un décalage."
    ),
    "API URL": "URL de l’API",
    "API key": "Clé d’API",
    "Add a comment": "Ajouter un commentaire",
    "Card": "Carte",
    "Comment": "Commentaire",
    "Comment on a Trello card.": "Commente une carte Trello.",
    "Create a card": "Créer une carte",
    "Description": "Description",
    "Due": "Échéance",
    "From trello.com/power-ups/admin → your Power-Up → API key.": (
        "Depuis trello.com/power-ups/admin → votre Power-Up → API key."
    ),
    (
        "Generated next to the API key (the Token link) by the member Maillon acts as, with read "
        "and write access."
    ): (
        "Généré à côté de la clé d’API (le lien Token) par le membre au nom duquel Maillon agit, "
        "avec accès en lecture et en écriture."
    ),
    "Labels": "Étiquettes",
    "Labels of the list's board, by name (or ID): a list, or names separated by commas.": (
        "Les étiquettes du tableau de la liste, par nom (ou identifiant)\xa0: une liste, ou des "
        "noms séparés par des virgules."
    ),
    "List ID": "Identifiant de la liste",
    "Markdown.": "En Markdown.",
    "Members": "Membres",
    "Members of the list's board to add, by username (or ID).": (
        "Les membres du tableau de la liste à ajouter, par nom d’utilisateur (ou identifiant)."
    ),
    "Move a Trello card to another list.": "Déplace une carte Trello vers une autre liste.",
    "Move a card": "Déplacer une carte",
    "Only when the list is on another board than the card.": (
        "Seulement quand la liste est sur un autre tableau que la carte."
    ),
    "Open Trello cards, move them between lists, comment on them.": (
        "Créez des cartes Trello, déplacez-les d’une liste à l’autre, commentez-les."
    ),
    "Open a Trello card in a list, with a description, a due date, labels and members.": (
        "Crée une carte Trello dans une liste, avec une description, une échéance, des étiquettes "
        "et des membres."
    ),
    "Position in the list": "Position dans la liste",
    "The card's ID, or its URL.": "L’identifiant de la carte, ou son URL.",
    "The list the card goes in (24 hexadecimal characters).": (
        "La liste où va la carte (24 caractères hexadécimaux)."
    ),
    "Title": "Titre",
    "To board ID": "Identifiant du tableau de destination",
    "To list ID": "Identifiant de la liste de destination",
    "Token": "Jeton",
    "Trello": "Trello",
    "Where Trello's API calls go. Change only for a proxy.": (
        "L’adresse des appels à l’API de Trello. À changer seulement pour un proxy."
    ),
    "Top": "En haut",
    "Bottom": "En bas",
}
