package dev.kiln.app.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The build API's description is checked, not trusted: the document the gateway serves must pass a
 * real OpenAPI 3 parser and validator without a single message, and the gateway must answer exactly
 * the methods it lists on each path, with statuses the document lists.
 */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class OpenApiDocumentTest {
    /** Every method a client might try; TRACE and CONNECT never reach the route handler. */
    private static final List<String> METHODS = List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
    /** Well-formed, but no build has it: every {id} route reaches its handler and answers its own error. */
    private static final String SOME_ID = "0123456789abcdef0123";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @Test
    void servedDocumentPassesAnOpenApi3ValidatorWithoutMessages() throws Exception {
        SwaggerParseResult result = parse();
        assertNotNull(result.getOpenAPI(), "not an OpenAPI document: " + result.getMessages());
        assertEquals(List.of(), result.getMessages(), "the validator's messages about /api/v1/openapi.yaml");
        OpenAPI api = result.getOpenAPI();
        assertTrue(api.getComponents().getSecuritySchemes().values().stream()
                .anyMatch(s -> "basic".equalsIgnoreCase(s.getScheme())), "the Basic security scheme is declared");
        assertEquals(List.of(), api.getSecurity().stream().filter(s -> !api.getComponents().getSecuritySchemes().keySet()
                .containsAll(s.keySet())).toList(), "security requirements name declared schemes");
    }

    @Test
    void gatewayAnswersExactlyTheDocumentedMethodsWithDocumentedStatuses() throws Exception {
        OpenAPI api = parse().getOpenAPI();
        List<String> mismatches = new ArrayList<>();
        for (Map.Entry<String, PathItem> path : api.getPaths().entrySet()) {
            String concrete = path.getKey().replace("{id}", SOME_ID);
            Map<PathItem.HttpMethod, Operation> operations = path.getValue().readOperationsMap();
            for (String method : METHODS) {
                Operation operation = operations.get(PathItem.HttpMethod.valueOf(method));
                HttpResponse<String> response = send(method, concrete);
                String seen = method + " " + path.getKey() + " answered " + response.statusCode() + " " + response.body();
                if (operation == null) {
                    if (response.statusCode() != 405) {
                        mismatches.add(seen + " but the document has no " + method + " there (expected 405)");
                    }
                } else if (!operation.getResponses().containsKey(Integer.toString(response.statusCode()))) {
                    mismatches.add(seen + " but the document lists only " + operation.getResponses().keySet());
                }
            }
        }
        // the other way: paths the document does not have are not served
        for (String undocumented : List.of("/api/v1/builds/" + SOME_ID + "/logs", "/api/v1/builds/" + SOME_ID + "/context/x",
                "/api/v1/openapi.json", "/api/v1/")) {
            HttpResponse<String> response = send("GET", undocumented);
            if (response.statusCode() != 404) {
                mismatches.add("GET " + undocumented + " answered " + response.statusCode() + " but the document does not have it");
            }
        }
        assertEquals(List.of(), mismatches);
    }

    private static SwaggerParseResult parse() throws IOException, InterruptedException {
        HttpResponse<String> served = send("GET", "/api/v1/openapi.yaml");
        assertEquals(200, served.statusCode(), served.body());
        ParseOptions options = new ParseOptions();
        options.setResolve(true);
        options.setValidateInternalRefs(true);
        return new OpenAPIV3Parser().readContents(served.body(), null, options);
    }

    private static HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(BuildApi.url(path)))
                .method(method.toUpperCase(Locale.ROOT), HttpRequest.BodyPublishers.noBody())
                .header("Content-Type", "application/json").build();
        return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
