package dev.kiln.app.http;

import static dev.kiln.app.http.Registry.API_VERSION;
import static dev.kiln.app.http.Registry.OCI_MANIFEST;
import static dev.kiln.app.http.Registry.errorCode;
import static dev.kiln.app.http.Registry.imageManifest;
import static dev.kiln.app.http.Registry.pushBlob;
import static dev.kiln.app.http.Registry.pushManifest;
import static dev.kiln.app.http.Registry.randomBytes;
import static dev.kiln.app.http.Registry.repo;
import static dev.kiln.app.http.Registry.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Tags list and catalog, with {@code n}/{@code last} pagination and the {@code Link} header. */
@QuarkusTest
@WithTestResource(WipeTestStore.class)
class TagsAndCatalogTest {
    private static final Pattern NEXT = Pattern.compile("<([^>]+)>; rel=\"next\"");
    private static final List<String> TAGS = List.of("1.0", "A", "latest", "v1", "v10", "v2"); // lexical order

    private static String repoWithTags() {
        String repo = repo("local", "tags");
        byte[] manifest = imageManifest(repo, OCI_MANIFEST);
        for (String tag : List.of("v2", "latest", "v10", "A", "v1", "1.0")) {
            pushManifest(repo, tag, OCI_MANIFEST, manifest);
        }
        return repo;
    }

    private static String next(Response response) {
        String link = response.header("Link");
        if (link == null) {
            return null;
        }
        Matcher m = NEXT.matcher(link);
        assertTrue(m.matches(), "malformed Link header: " + link);
        return m.group(1);
    }

    @Test
    void allTagsInLexicalOrder() {
        String repo = repoWithTags();
        Response response = request().get("/v2/" + repo + "/tags/list");
        response.then().statusCode(200).contentType("application/json").header(API_VERSION, "registry/2.0");
        assertEquals(repo, response.jsonPath().getString("name"));
        assertEquals(TAGS, response.jsonPath().getList("tags", String.class));
        assertNull(response.header("Link"));
    }

    @Test
    void paginationFollowsTheLinkHeader() {
        String repo = repoWithTags();
        Response first = request().get("/v2/" + repo + "/tags/list?n=2");
        first.then().statusCode(200);
        assertEquals(TAGS.subList(0, 2), first.jsonPath().getList("tags", String.class));
        assertEquals("/v2/" + repo + "/tags/list?n=2&last=A", next(first));

        List<String> all = new ArrayList<>(first.jsonPath().getList("tags", String.class));
        String next = next(first);
        int pages = 1;
        while (next != null) {
            Response page = request().urlEncodingEnabled(false).get(next);
            page.then().statusCode(200);
            List<String> tags = page.jsonPath().getList("tags", String.class);
            assertTrue(tags.size() <= 2, "page larger than n: " + tags);
            all.addAll(tags);
            next = next(page);
            assertTrue(++pages <= TAGS.size(), "pagination does not end");
        }
        assertEquals(TAGS, all);
        assertEquals(3, pages);
    }

    @Test
    void lastWithoutN() {
        String repo = repoWithTags();
        Response response = request().get("/v2/" + repo + "/tags/list?last=latest");
        response.then().statusCode(200);
        assertEquals(List.of("v1", "v10", "v2"), response.jsonPath().getList("tags", String.class));
        assertNull(response.header("Link"));
    }

    @Test
    void lastThatIsNotATagStartsAfterIt() {
        String repo = repoWithTags();
        Response response = request().get("/v2/" + repo + "/tags/list?n=2&last=b");
        assertEquals(List.of("latest", "v1"), response.jsonPath().getList("tags", String.class));
        assertEquals("/v2/" + repo + "/tags/list?n=2&last=v1", next(response));
    }

    @Test
    void nLargerThanTheListHasNoLink() {
        String repo = repoWithTags();
        Response response = request().get("/v2/" + repo + "/tags/list?n=100");
        assertEquals(TAGS, response.jsonPath().getList("tags", String.class));
        assertNull(response.header("Link"));
        Response exact = request().get("/v2/" + repo + "/tags/list?n=" + TAGS.size());
        assertEquals(TAGS, exact.jsonPath().getList("tags", String.class));
        assertNull(exact.header("Link"));
    }

    @Test
    void nZeroIsAnEmptyPage() {
        String repo = repoWithTags();
        Response response = request().get("/v2/" + repo + "/tags/list?n=0");
        response.then().statusCode(200);
        assertEquals(List.of(), response.jsonPath().getList("tags", String.class));
    }

    @Test
    void invalidNIsRefused() {
        String repo = repoWithTags();
        request().get("/v2/" + repo + "/tags/list?n=-1").then().statusCode(400).header(API_VERSION, "registry/2.0");
        request().get("/v2/" + repo + "/tags/list?n=many").then().statusCode(400);
    }

    @Test
    void repositoryWithoutTagsHasAnEmptyList() {
        String repo = repo("local", "notags");
        pushBlob(repo, randomBytes(10));
        Response response = request().get("/v2/" + repo + "/tags/list");
        response.then().statusCode(200);
        assertEquals(List.of(), response.jsonPath().getList("tags", String.class));
    }

    @Test
    void unknownRepositoryIsNameUnknown() {
        Response response = request().get("/v2/" + repo("local", "nobody") + "/tags/list");
        response.then().statusCode(404).header(API_VERSION, "registry/2.0");
        assertEquals("NAME_UNKNOWN", errorCode(response));
    }

    @Test
    void catalogListsRepositoriesInOrderWithPagination() {
        String prefix = repo("local", "catalog");
        List<String> names = List.of(prefix + "/a", prefix + "/a/nested", prefix + "/b", prefix + "/c");
        for (String name : List.of(names.get(3), names.get(1), names.get(0), names.get(2))) {
            pushBlob(name, randomBytes(8));
        }

        Response whole = request().get("/v2/_catalog");
        whole.then().statusCode(200).contentType("application/json").header(API_VERSION, "registry/2.0");
        List<String> all = whole.jsonPath().getList("repositories", String.class);
        assertTrue(all.containsAll(names), all.toString());
        List<String> sorted = new ArrayList<>(all);
        sorted.sort(null);
        assertEquals(sorted, all, "catalog must be in lexical order");
        assertEquals(names, all.stream().filter(n -> n.startsWith(prefix + "/")).toList());

        Response first = request().get("/v2/_catalog?n=2&last=" + prefix);
        first.then().statusCode(200);
        assertEquals(names.subList(0, 2), first.jsonPath().getList("repositories", String.class));
        String next = next(first);
        assertNotNull(next, "a full page must link to the next one");
        assertEquals("/v2/_catalog?n=2&last=" + java.net.URLEncoder.encode(names.get(1), java.nio.charset.StandardCharsets.UTF_8), next);

        Response second = request().urlEncodingEnabled(false).get(next);
        second.then().statusCode(200);
        assertEquals(names.subList(2, 4), second.jsonPath().getList("repositories", String.class));
    }

    @Test
    void catalogLastPageHasNoLink() {
        pushBlob(repo("local", "catalog-last"), randomBytes(8));
        // other tests share the store, so the last page is found from the whole catalog rather than assumed
        List<String> all = request().get("/v2/_catalog?n=100000").jsonPath().getList("repositories", String.class);
        assertTrue(all.size() >= 2, all.toString());
        String beforeLast = all.get(all.size() - 2);
        Response response = request().get("/v2/_catalog?n=5&last=" + beforeLast);
        response.then().statusCode(200);
        assertEquals(List.of(all.get(all.size() - 1)), response.jsonPath().getList("repositories", String.class));
        assertNull(response.header("Link"));
    }
}
