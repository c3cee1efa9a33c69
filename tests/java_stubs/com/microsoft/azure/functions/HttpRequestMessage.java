// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions;

import java.net.URI;
import java.util.Map;

public interface HttpRequestMessage<T> {
    URI getUri();
    HttpMethod getHttpMethod();
    Map<String, String> getHeaders();
    Map<String, String> getQueryParameters();
    T getBody();
    HttpResponseMessage.Builder createResponseBuilder(HttpStatus status);
    HttpResponseMessage.Builder createResponseBuilder(HttpStatusType status);
}
