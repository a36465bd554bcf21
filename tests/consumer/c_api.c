/* The C API from an install tree, compiled as C: a world and a collector
 * set-up that must be refused (no stop_world and no world). */
#include <tricolor/c_api.h>

int c_api_smoke(void) {
    tc_world *w = tc_world_new();
    if (w == NULL || tc_world_attach(w) != 0 || tc_world_safepoint(w) != 0 || tc_world_detach(w) != 0) {
        return 1;
    }
    tc_world_free(w);
    tc_embedder_ops none = {0};
    return tc_collector_new(NULL, NULL, &none, NULL, NULL, NULL) == NULL && tc_last_error()[0] ? 0 : 1;
}
