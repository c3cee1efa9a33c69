// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions;

public interface HttpResponseMessage {
    HttpStatusType getStatus();
    int getStatusCode();
    String getHeader(String key);
    Object getBody();

    interface Builder {
        Builder status(HttpStatusType status);
        Builder header(String key, String value);
        Builder body(Object body);
        HttpResponseMessage build();
    }
}
