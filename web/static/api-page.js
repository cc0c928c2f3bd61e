// The API page (/schema): Swagger UI on the document written into the page as a data block
// (the Content-Security-Policy allows no inline script). Calls that change something carry
// the session's CSRF token, named by the data block's attributes.
(() => {
  const data = document.getElementById("openapi-document");
  const cookie = data.dataset.csrfCookie;
  const header = data.dataset.csrfHeader;
  const csrf = document.cookie.split("; ").find((c) => c.startsWith(cookie + "="));
  SwaggerUIBundle({
    spec: JSON.parse(data.textContent),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: (request) => {
      if (csrf) request.headers[header] = csrf.slice(csrf.indexOf("=") + 1);
      return request;
    },
  });
})();
