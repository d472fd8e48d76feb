// The API reference at /docs: Swagger UI (vendored, see vendor/swagger-ui/README.md) over this
// API's own OpenAPI document. Relative URLs keep it working behind API Gateway's stage path.
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "v2/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true, // each operation has its own #/tag/operationId link
  validatorUrl: null, // never send the document to validator.swagger.io
  persistAuthorization: false, // the key is not written to localStorage
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  docExpansion: "list",
  filter: true,
});
