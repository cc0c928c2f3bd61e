"""The connector's texts in French (``Connector.translations``): its title, its actions' and
its fields'."""

from __future__ import annotations

__all__ = ["FRENCH"]

#: English text → French.
FRENCH: dict[str, str] = {
    "API key": "Clé d’API",
    "API key header": "En-tête de la clé d’API",
    "Accepted statuses": "Statuts acceptés",
    (
        "Add an Idempotency-Key header, stable across retries of this step, to requests other than "
        "GET and HEAD (unless one is set in Headers)."
    ): (
        "Ajoute un en-tête Idempotency-Key, identique d’un nouvel essai à l’autre de cette étape, "
        "aux requêtes autres que GET et HEAD (sauf s’il est déjà défini dans les en-têtes)."
    ),
    "Added to the URL's query string; a list repeats the parameter.": (
        "Ajoutés à la chaîne de requête de l’URL\u202f; une liste répète le paramètre."
    ),
    "Base URL": "URL de base",
    "Basic auth password": "Mot de passe (authentification Basic)",
    "Basic auth user name": "Nom d’utilisateur (authentification Basic)",
    "Bearer token": "Jeton Bearer",
    "Call any HTTP API: method, URL, headers, query, and a JSON, form or raw body.": (
        "Appelle n’importe quelle API HTTP\xa0: méthode, URL, en-têtes, paramètres, et un corps "
        "JSON, formulaire ou brut."
    ),
    "Call any HTTP API: webhooks, REST endpoints, internal services.": (
        "Appelez n’importe quelle API HTTP\xa0: webhooks, points d’accès REST, services internes."
    ),
    "Fail on error status": "Échouer sur un statut d’erreur",
    (
        "Follow 3xx redirects (Authorization and the connection's headers are not sent to other "
        "hosts)."
    ): (
        "Suit les redirections 3xx (l’en-tête Authorization et les en-têtes de la connexion ne "
        "sont pas envoyés aux autres hôtes)."
    ),
    "Follow redirects": "Suivre les redirections",
    "For HTTP Basic authentication.": "Pour l’authentification HTTP Basic.",
    "Form body": "Corps de formulaire",
    (
        "Full http(s) URL, or a path relative to the connection's base URL. Query parameters may "
        "be written here or in Query. Values templated into the path are percent-encoded ('/' "
        "too); '| safe' writes one as it is."
    ): (
        "Une URL http(s) complète, ou un chemin relatif à l’URL de base de la connexion. Les "
        "paramètres de requête peuvent figurer ici ou dans Paramètres de requête. Les valeurs "
        "insérées dans le chemin sont encodées en pourcentage («\u202f/\u202f» aussi)\u202f; "
        "«\u202f| safe\u202f» en écrit une telle quelle."
    ),
    "HTTP Basic authentication.": "Authentification HTTP Basic.",
    "HTTP Basic authentication; replaces the connection's auth.": (
        "Authentification HTTP Basic\u202f; remplace celle de la connexion."
    ),
    "HTTP method.": "La méthode HTTP.",
    "HTTP request": "Requête HTTP",
    "Headers": "En-têtes",
    (
        "Headers added to every request (steps can override them). Not secret: put credentials in "
        "the token, password or API key fields."
    ): (
        "Les en-têtes ajoutés à chaque requête (les étapes peuvent les remplacer). Non "
        "secrets\xa0: mettez les identifiants dans les champs jeton, mot de passe ou clé d’API."
    ),
    "JSON body": "Corps JSON",
    "Method": "Méthode",
    "Name of the header that carries the API key.": "Le nom de l’en-tête qui porte la clé d’API.",
    "Non-2xx statuses to return as output instead of failing (e.g. 404, 409).": (
        "Les statuts hors 2xx à renvoyer comme résultat au lieu d’échouer (par exemple 404, 409)."
    ),
    "Prefix of relative step URLs; credentials are sent to this origin only.": (
        "Le préfixe des URL relatives des étapes\u202f; les identifiants ne sont envoyés qu’à "
        "cette origine."
    ),
    "Query parameters": "Paramètres de requête",
    "Raw body": "Corps brut",
    "Request headers; they override the connection's.": (
        "Les en-têtes de la requête\u202f; ils remplacent ceux de la connexion."
    ),
    (
        "Requested with GET and these credentials when the connection is tested; a 2xx answer "
        "means they work. Absolute, or relative to the base URL (default: the base URL itself)."
    ): (
        "Appelée en GET avec ces identifiants quand la connexion est testée\u202f; une réponse 2xx "
        "signifie qu’ils fonctionnent. Absolue, ou relative à l’URL de base (par défaut\xa0: l’URL "
        "de base elle-même)."
    ),
    "Response bodies are cut at this size (10 MiB at most); 'truncated' says so.": (
        "Les corps de réponse sont coupés à cette taille (10 Mio au plus)\u202f; "
        "«\xa0truncated\xa0» le signale."
    ),
    "Response size limit (bytes)": "Taille maximale de la réponse (octets)",
    "Send Idempotency-Key": "Envoyer Idempotency-Key",
    "Send an HTTP request": "Envoyer une requête HTTP",
    "Sent as 'Authorization: Bearer <token>'.": (
        "Envoyé sous la forme «\xa0Authorization: Bearer <jeton>\xa0»."
    ),
    "Sent as 'Authorization: Bearer <token>'; replaces the connection's auth.": (
        "Envoyé sous la forme «\xa0Authorization: Bearer <jeton>\xa0»\u202f; remplace "
        "l’authentification de la connexion."
    ),
    "Sent as application/json. Give at most one of JSON, form and content.": (
        "Envoyé en application/json. Indiquez au plus un corps\xa0: JSON, formulaire ou brut."
    ),
    "Sent as application/x-www-form-urlencoded.": "Envoyé en application/x-www-form-urlencoded.",
    "Sent as is (UTF-8); set a Content-Type header to match.": (
        "Envoyé tel quel (UTF-8)\u202f; définissez un en-tête Content-Type correspondant."
    ),
    "Sent in the header named below, for APIs that authenticate that way.": (
        "Envoyée dans l’en-tête nommé ci-dessous, pour les API qui s’authentifient ainsi."
    ),
    "Test URL": "URL de test",
    "Timeout (seconds)": "Délai d’attente (secondes)",
    "URL": "URL",
    (
        "When on, a status outside 2xx (and outside Accepted statuses) fails the step: 5xx, 408 "
        "and 429 are retried, other 4xx are not. When off, every answer is returned as the step "
        "output."
    ): (
        "Activé, un statut hors 2xx (et hors statuts acceptés) fait échouer l’étape\xa0: 5xx, 408 "
        "et 429 sont réessayés, les autres 4xx non. Désactivé, chaque réponse est renvoyée comme "
        "résultat de l’étape."
    ),
    "Whole-request budget: connecting, sending and reading the answer.": (
        "Le temps accordé à toute la requête\xa0: connexion, envoi et lecture de la réponse."
    ),
}
