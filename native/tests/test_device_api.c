/* Device, memory and stream functions on a machine with a GPU: allocation,
 * pinned memory, copies both ways, memset, streams, events, pointer placement,
 * properties, and the placement checks of prefill against real pointers.
 * Capabilities and the no-device answers of the event functions are checked
 * everywhere; the rest exits 77 (skipped) without a GPU. */
#include "test_util.h"

/* compute-sanitizer counts the deliberate out-of-memory cudaMalloc as an API
 * error; under it (its library is mapped into the process once CUDA is up)
 * or with PATTN_TEST_SKIP_OOM set, that check is left out. */
static int under_sanitizer(void) {
    char line[512];
    int found = 0;
    FILE* maps;
    if (getenv("PATTN_TEST_SKIP_OOM") != NULL) return 1;
    maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) return 0;
    while (!found && fgets(line, sizeof line, maps) != NULL)
        found = strstr(line, "sanitizer") != NULL;
    fclose(maps);
    return found;
}

static void test_properties(int32_t count) {
    pattn_device_properties props;
    memset(&props, 0, sizeof props);
    props.struct_size = sizeof props;
    CHECK_OK(pattn_device_get_properties(0, &props));
    CHECK(props.device_id == 0);
    CHECK(props.name[0] != '\0' && memchr(props.name, '\0', sizeof props.name) != NULL);
    CHECK(props.compute_capability_major >= 5);
    CHECK(props.multiprocessor_count > 0);
    CHECK(props.max_shared_memory_per_block_optin >= 48 * 1024);
    CHECK(props.total_global_memory > ((uint64_t)1 << 30));
    CHECK(props.l2_cache_size > 0);
    printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB\n", props.name, props.compute_capability_major,
           props.compute_capability_minor, props.multiprocessor_count,
           (double)props.total_global_memory / (1024.0 * 1024.0 * 1024.0));

    props.struct_size = 12;
    CHECK_STATUS(pattn_device_get_properties(0, &props), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("struct_size = 12");
    props.struct_size = sizeof props;
    CHECK_STATUS(pattn_device_get_properties(count, &props), PATTN_STATUS_NO_DEVICE);
    CHECK_ERROR_MENTIONS("device_id");
    CHECK_STATUS(pattn_device_get_properties(0, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("properties");
    CHECK_OK(pattn_device_synchronize(0));
    CHECK_STATUS(pattn_device_synchronize(-1), PATTN_STATUS_NO_DEVICE);
}

static void test_memory(int32_t count) {
    enum { N = 1 << 20 };
    unsigned char* host = (unsigned char*)malloc(N);
    unsigned char* back = (unsigned char*)malloc(N);
    void *dev = NULL, *dev2 = NULL, *pinned = NULL, *stream = NULL, *zero = (void*)1;
    pattn_device_type type;
    int32_t id = -1;
    size_t i, bad = 0;
    tu_rng rng = tu_rng_make(3);
    for (i = 0; i < N; ++i) host[i] = (unsigned char)tu_rng_u64(&rng);

    CHECK_OK(pattn_device_malloc(0, 0, &zero));
    CHECK(zero == NULL);
    CHECK_OK(pattn_device_free(NULL));
    CHECK_OK(pattn_host_free_pinned(NULL));
    CHECK_STATUS(pattn_device_malloc(0, 16, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pattn_device_malloc(count, 16, &dev), PATTN_STATUS_NO_DEVICE);
    if (!under_sanitizer()) {
        CHECK_STATUS(pattn_device_malloc(0, (uint64_t)1 << 60, &dev), PATTN_STATUS_OUT_OF_MEMORY);
        CHECK_ERROR_MENTIONS("cudaMalloc");
        CHECK(dev == NULL);
    }

    CHECK_OK(pattn_device_malloc(0, N, &dev));
    CHECK_OK(pattn_device_malloc(0, N, &dev2));
    CHECK(dev != NULL && dev2 != NULL && ((uintptr_t)dev % 256) == 0);

    /* Round trip host -> device -> device -> host. */
    CHECK_OK(pattn_memcpy(dev, host, N));
    CHECK_OK(pattn_memcpy(dev2, dev, N));
    memset(back, 0, N);
    CHECK_OK(pattn_memcpy(back, dev2, N));
    CHECK(memcmp(host, back, N) == 0);
    CHECK_STATUS(pattn_memcpy(NULL, host, 16), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("dst");
    CHECK_OK(pattn_memcpy(NULL, NULL, 0));

    /* Memset on a stream: only the low byte of the value counts. */
    CHECK_OK(pattn_stream_create(0, &stream));
    CHECK(stream != NULL);
    CHECK_OK(pattn_memset_async(dev, 0x1AB, N / 2, stream));
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK_OK(pattn_memcpy(back, dev, N));
    for (i = 0; i < N; ++i)
        if (back[i] != (i < N / 2 ? 0xAB : host[i])) bad++;
    CHECK_MSG(bad == 0, "%zu bytes wrong after memset", bad);

    /* Async copies through pinned memory. */
    CHECK_OK(pattn_host_malloc_pinned(N, &pinned));
    CHECK(pinned != NULL);
    memcpy(pinned, host, N);
    CHECK_OK(pattn_memcpy_async(dev, pinned, N, stream));
    memset(back, 0, N);
    CHECK_OK(pattn_memcpy_async(pinned, dev2, N, stream));
    CHECK_OK(pattn_stream_synchronize(stream));
    CHECK(memcmp(pinned, host, N) == 0);
    CHECK_OK(pattn_memcpy_async(back, dev, N, NULL));
    CHECK_OK(pattn_stream_synchronize(NULL));
    CHECK(memcmp(back, host, N) == 0);

    /* Where pointers live. */
    CHECK_OK(pattn_pointer_get_device(dev, &type, &id));
    CHECK(type == PATTN_DEVICE_CUDA && id == 0);
    CHECK_OK(pattn_pointer_get_device((char*)dev + 100, &type, &id));
    CHECK(type == PATTN_DEVICE_CUDA && id == 0);
    CHECK_OK(pattn_pointer_get_device(host, &type, &id));
    CHECK(type == PATTN_DEVICE_CPU);
    CHECK_OK(pattn_pointer_get_device(pinned, &type, &id));
    CHECK(type == PATTN_DEVICE_CPU);
    CHECK_OK(pattn_pointer_get_device(NULL, &type, &id));
    CHECK(type == PATTN_DEVICE_CPU);
    CHECK_STATUS(pattn_pointer_get_device(dev, NULL, &id), PATTN_STATUS_INVALID_ARGUMENT);
    /* Looking at a host pointer leaves no error behind for the next call. */
    CHECK_OK(pattn_device_synchronize(0));

    /* Prefill checks descriptors against the real memory. */
    {
        pattn_prefill_params p;
        memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        p.mask_mode = PATTN_MASK_PADDED;
        p.q = tu_tensor_4d(dev, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, 8, 2, 64);
        p.k = p.q; p.v = p.q;
        p.o = tu_tensor_4d(dev2, PATTN_DTYPE_F16, PATTN_DEVICE_CUDA, 0, 1, 8, 2, 64);
        /* A host descriptor over device memory. */
        p.q.device_type = p.k.device_type = p.v.device_type = p.o.device_type = PATTN_DEVICE_CPU;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("q.device_type is CPU");
        /* A device descriptor over pinned host memory. */
        p.q.device_type = p.k.device_type = p.v.device_type = p.o.device_type = PATTN_DEVICE_CUDA;
        p.o.data = pinned;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("o.device_type is CUDA");
        /* Device lengths must be on the device of q. */
        p.o.data = dev2;
        p.q_valid_lens = tu_tensor_1d(host, PATTN_DTYPE_I32, PATTN_DEVICE_CUDA, 0, 1);
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_DEVICE_MISMATCH);
        CHECK_ERROR_MENTIONS("q_valid_lens");
        /* A device id that does not exist. */
        memset(&p.q_valid_lens, 0, sizeof p.q_valid_lens);
        p.q.device_id = p.k.device_id = p.v.device_id = p.o.device_id = count;
        CHECK_STATUS(pattn_sequence_prefill(&p, NULL), PATTN_STATUS_NO_DEVICE);
        CHECK_ERROR_MENTIONS("device_id");
    }

    CHECK_OK(pattn_stream_destroy(stream));
    CHECK_OK(pattn_stream_destroy(NULL));
    CHECK_OK(pattn_host_free_pinned(pinned));
    CHECK_OK(pattn_device_free(dev));
    CHECK_OK(pattn_device_free(dev2));
    CHECK_STATUS(pattn_stream_create(0, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pattn_stream_create(count, &stream), PATTN_STATUS_NO_DEVICE);
    free(host);
    free(back);
}

/* Everywhere: capabilities agree with the build; events refuse cleanly. */
static void test_capabilities_and_events_without_gpu(int32_t count) {
    pattn_capabilities caps;
    void* event = (void*)1;
    int32_t completed = 7, i;
    float ms = 1.0f;
    const int cpu_only = strstr(pattn_version_string(), "CPU-only") != NULL;
    memset(&caps, 0xAB, sizeof caps);
    caps.struct_size = sizeof caps;
    CHECK_OK(pattn_get_capabilities(&caps));
    CHECK(caps.struct_size == sizeof caps);
    CHECK(caps.cuda_built == (cpu_only ? 0 : 1));
    CHECK(memchr(caps.cpu_isa, '\0', sizeof caps.cpu_isa) != NULL && caps.cpu_isa[0] != '\0');
    {
        /* The name is the CPU dispatch's own (not the compiled baseline): a
           forced portable path reads as such. */
        const char* forced = getenv("PADDEDATTN_CPU_ISA");
        CHECK(strstr(caps.cpu_isa, "compiled baseline") == NULL);
        if (forced && strcmp(forced, "scalar") == 0) CHECK(strstr(caps.cpu_isa, "portable") != NULL);
    }
    CHECK(caps.cuda_architecture_count >= 0 && caps.cuda_architecture_count <= 16);
    if (cpu_only) {
        CHECK(caps.cuda_architecture_count == 0 && caps.cuda_runtime_version == 0);
    } else {
        CHECK(caps.cuda_architecture_count > 0 && caps.cuda_runtime_version >= 11000);
    }
    for (i = 0; i < caps.cuda_architecture_count; ++i) {
        CHECK(caps.cuda_architectures[i] >= 50 && caps.cuda_architectures[i] < 1000);
        CHECK(caps.cuda_arch_specific[i] == 0 || caps.cuda_arch_specific[i] == 1);
    }
    for (i = caps.cuda_architecture_count; i < 16; ++i) CHECK(caps.cuda_architectures[i] == 0);
    printf("capabilities: cuda_built %d, cudart %d, %d architecture(s), cpu_isa \"%s\"\n", caps.cuda_built,
           caps.cuda_runtime_version, caps.cuda_architecture_count, caps.cpu_isa);
    caps.struct_size = 8;
    CHECK_STATUS(pattn_get_capabilities(&caps), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("struct_size = 8");
    CHECK_STATUS(pattn_get_capabilities(NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("capabilities");

    if (count > 0) return;
    CHECK_STATUS(pattn_event_create(0, &event), cpu_only ? PATTN_STATUS_CUDA_NOT_BUILT : PATTN_STATUS_NO_DEVICE);
    CHECK(event == NULL);
    if (cpu_only) {
        CHECK_STATUS(pattn_event_query((void*)16, &completed), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK(completed == 0);
        CHECK_STATUS(pattn_event_elapsed_ms((void*)16, (void*)32, &ms), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK(ms == 0.0f);
        CHECK_STATUS(pattn_event_record((void*)16, NULL), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_STATUS(pattn_event_synchronize((void*)16), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_STATUS(pattn_stream_wait_event(NULL, (void*)16), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_STATUS(pattn_event_destroy((void*)16), PATTN_STATUS_CUDA_NOT_BUILT);
        CHECK_ERROR_MENTIONS("without CUDA");
    }
}

/* GPU: timing, query, and one stream ordered after another through an event. */
static void test_events(int32_t count) {
    enum { N = 64 << 20 };
    void *a = NULL, *b = NULL, *producer = NULL, *consumer = NULL, *start = NULL, *done = NULL;
    unsigned char* host = (unsigned char*)malloc(N);
    int32_t completed = -1;
    float ms = -1.0f;
    size_t i, bad = 0;
    int round;
    CHECK_OK(pattn_device_malloc(0, N, &a));
    CHECK_OK(pattn_device_malloc(0, N, &b));
    CHECK_OK(pattn_stream_create(0, &producer));
    CHECK_OK(pattn_stream_create(0, &consumer));
    CHECK_OK(pattn_event_create(0, &start));
    CHECK_OK(pattn_event_create(0, &done));
    {
        /* A failed create writes NULL to its out-argument: not into start. */
        void* refused = (void*)&refused;
        CHECK_STATUS(pattn_event_create(count, &refused), PATTN_STATUS_NO_DEVICE);
        CHECK(refused == NULL);
    }
    CHECK_STATUS(pattn_event_create(0, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pattn_event_query(done, &completed)); /* never recorded: complete */
    CHECK(completed == 1);
    for (round = 1; round <= 3; ++round) {
        /* producer: several large memsets; consumer copies a to b after them. */
        CHECK_OK(pattn_event_record(start, producer));
        CHECK_OK(pattn_memset_async(a, 0, N, producer));
        CHECK_OK(pattn_memset_async(a, 0x10, N, producer));
        CHECK_OK(pattn_memset_async(a, round, N, producer));
        CHECK_OK(pattn_event_record(done, producer));
        CHECK_OK(pattn_stream_wait_event(consumer, done));
        CHECK_OK(pattn_memcpy_async(b, a, N, consumer));
        CHECK_OK(pattn_event_synchronize(done));
        CHECK_OK(pattn_event_query(done, &completed));
        CHECK(completed == 1);
        CHECK_OK(pattn_stream_synchronize(consumer));
        CHECK_OK(pattn_memcpy(host, b, N));
        for (i = 0, bad = 0; i < N; ++i) bad += host[i] != (unsigned char)round;
        CHECK(bad == 0);
        CHECK_OK(pattn_event_elapsed_ms(start, done, &ms));
        CHECK(ms > 0.0f && ms < 10000.0f);
    }
    printf("events: 3 x 64 MiB memsets took %.3f ms (last round)\n", (double)ms);
    CHECK_STATUS(pattn_event_elapsed_ms(NULL, done, &ms), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pattn_event_query(done, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(pattn_stream_wait_event(consumer, NULL), PATTN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(pattn_event_destroy(start));
    CHECK_OK(pattn_event_destroy(done));
    CHECK_OK(pattn_event_destroy(NULL));
    CHECK_OK(pattn_stream_destroy(producer));
    CHECK_OK(pattn_stream_destroy(consumer));
    CHECK_OK(pattn_device_free(a));
    CHECK_OK(pattn_device_free(b));
    free(host);
}

int main(void) {
    int32_t count = 0;
    CHECK_OK(pattn_device_count(&count));
    test_capabilities_and_events_without_gpu(count);
    if (count == 0) {
        if (tu_failures != 0) return tu_finish("test_device_api");
        printf("test_device_api: no CUDA device, GPU part skipped\n");
        return TEST_SKIP;
    }
    test_properties(count);
    test_memory(count);
    test_events(count);
    return tu_finish("test_device_api");
}
