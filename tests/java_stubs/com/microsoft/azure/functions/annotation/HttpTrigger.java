// Compile-only stand-in for the published azure-functions-java-library 3.x API (tests/java_stubs/README.md).
package com.microsoft.azure.functions.annotation;

import com.microsoft.azure.functions.HttpMethod;
import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface HttpTrigger {
    String name();
    String dataType() default "";
    String route() default "";
    HttpMethod[] methods() default {};
    AuthorizationLevel authLevel() default AuthorizationLevel.FUNCTION;
}
