// Compile-only stand-in for azure-functions-java-library-kusto 1.0.13-Preview (tests/java_stubs/README.md).
package com.microsoft.azure.functions.kusto.annotation;

import com.microsoft.azure.functions.annotation.CustomBinding;
import java.lang.annotation.*;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
@CustomBinding(direction = "in", name = "", type = "Kusto")
public @interface KustoInput {
    String database();
    String connection();
    String name();
    String kqlCommand();
    String kqlParameters();
    String managedServiceIdentity() default "";
    String clientRequestProperties() default "";
}
