// The API docs page (templates/api/swagger_ui.html): drf-spectacular's Swagger UI
// start-up script, as a static file so that the Content-Security-Policy needs no
// inline script. The page passes its values in data- attributes of #swagger-ui.
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;

  var data = root.dataset;
  var swaggerSettings = JSON.parse(data.settings || "{}");
  var schemaAuthNames = JSON.parse(data.schemaAuthNames || "[]");
  var schemaAuthFailed = false;
  var ui = null;
  var plugins = [];

  function reloadSchema() {
    schemaAuthFailed = false;
    window.setTimeout(function () { ui.specActions.download(); });
  }

  // Reload the schema when the user logs in or out: it may show more operations then.
  function reloadSchemaOnAuthChange() {
    function wrap(original) {
      return function () {
        reloadSchema();
        return original.apply(null, arguments);
      };
    }
    return {
      statePlugins: {
        auth: { wrapActions: { authorizeOauth2: wrap, authorize: wrap, logout: wrap } },
      },
    };
  }
  if (schemaAuthNames.length > 0) plugins.push(reloadSchemaOnAuthChange);

  function isSchemaUrl(url) {
    return ui !== null && url === new URL(ui.getConfigs().url, document.baseURI).href;
  }

  function responseInterceptor(response) {
    if (!response.ok && isSchemaUrl(response.url) && !schemaAuthFailed) {
      // Retry once without credentials (no endless loop).
      schemaAuthFailed = true;
      window.setTimeout(function () { ui.specActions.download(); });
    }
    return response;
  }

  function storedAuthorization() {
    if (ui !== null) {
      var state = ui.getState().get("auth").get("authorized");
      if (state !== undefined && Object.keys(state.toJS()).length !== 0) return state.toJS();
      return undefined;
    }
    var saved = window.localStorage.getItem("authorized");
    return saved && saved !== "{}" ? JSON.parse(saved) : undefined;
  }

  function injectAuthCredentials(request) {
    var authorized = storedAuthorization();
    if (authorized === undefined) return;
    for (var i = 0; i < schemaAuthNames.length; i++) {
      var auth = authorized[schemaAuthNames[i]];
      if (auth === undefined || auth.schema === undefined) continue;
      var schema = auth.schema;
      if (schema.type === "http" && schema.scheme === "bearer") {
        request.headers.Authorization = "Bearer " + auth.value;
        return;
      } else if (schema.type === "http" && schema.scheme === "basic") {
        request.headers.Authorization = "Basic " + window.btoa(auth.value.username + ":" + auth.value.password);
        return;
      } else if (schema.type === "apiKey" && schema.in === "header") {
        request.headers[schema.name] = auth.value;
        return;
      } else if (schema.type === "oauth2" && auth.token.token_type === "Bearer") {
        request.headers.Authorization = "Bearer " + auth.token.access_token;
        return;
      }
    }
  }

  function requestInterceptor(request) {
    if (request.loadSpec && schemaAuthNames.length > 0 && !schemaAuthFailed) {
      try {
        injectAuthCredentials(request);
      } catch (error) {
        window.console.error("schema auth injection failed with error: ", error);
      }
    }
    // Session-authenticated writes need the CSRF token; GETs and cross-origin calls do not.
    if (["GET", undefined].indexOf(request.method) === -1 && request.credentials === "same-origin") {
      request.headers[data.csrfHeaderName] = data.csrfToken;
    }
    return request;
  }

  ui = window.SwaggerUIBundle(
    Object.assign(
      {
        url: data.schemaUrl,
        dom_id: "#swagger-ui",
        presets: [window.SwaggerUIBundle.presets.apis],
        plugins: plugins,
        layout: "BaseLayout",
        requestInterceptor: requestInterceptor,
        responseInterceptor: responseInterceptor,
      },
      swaggerSettings
    )
  );
})();
