// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions;

public enum HttpStatus implements HttpStatusType {
    CONTINUE(100), OK(200), CREATED(201), ACCEPTED(202), NO_CONTENT(204), MOVED_PERMANENTLY(301), FOUND(302),
    BAD_REQUEST(400), UNAUTHORIZED(401), FORBIDDEN(403), NOT_FOUND(404), METHOD_NOT_ALLOWED(405), CONFLICT(409),
    UNSUPPORTED_MEDIA_TYPE(415), INTERNAL_SERVER_ERROR(500), NOT_IMPLEMENTED(501), SERVICE_UNAVAILABLE(503);

    private final int value;

    HttpStatus(int value) { this.value = value; }

    @Override
    public int value() { return value; }
}
