// The CPU time of one kernel launch against the size of the kernel's
// parameters, on this machine's driver: the floor under the host time of a
// prefill call (bench_host_time.cpp), whose kernels take PrefillParams
// (3368 bytes, native/cuda/prefill_params.h) or PrefillTmaParams (3648)
// whatever the batch. Kernels with N-byte __grid_constant__ parameters
// (N from 16 to 4000; with CUDA 12.1+ also 8 KB, 16 KB and 32000 bytes) do
// nothing; per size: the median over 25 bursts of 256 launches, on a drained
// stream, of the thread's CPU time per launch, for <<<>>> and for
// cudaLaunchKernelEx. Built with the library (native/CMakeLists.txt, target
// bench_launch_cost; not a test: it needs a GPU).
//
//   bench_launch_cost
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "host_timing.h"

namespace {

template <int N>
struct Params {
    int value;
    char pad[N - sizeof(int)];
};

// Reads one field, so that the parameters are not optimised away.
template <int N>
__global__ void empty_kernel(const __grid_constant__ Params<N> p) {
    if (p.value == -1 && threadIdx.x == 0) printf("unreachable\n");
}

constexpr int kBurst = 256, kBursts = 30, kWarmupBursts = 5;

template <typename Launch>
double median_us_per_launch(cudaStream_t stream, Launch launch) {
    std::vector<double> samples;
    for (int burst = 0; burst < kBursts; ++burst) {
        cudaStreamSynchronize(stream);
        const double t0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < kBurst; ++i) launch(i);
        const double t1 = clock_us(CLOCK_THREAD_CPUTIME_ID);
        if (burst >= kWarmupBursts) samples.push_back((t1 - t0) / kBurst);
    }
    cudaStreamSynchronize(stream);
    return median(samples.data(), static_cast<int>(samples.size()));
}

template <int N>
bool run(cudaStream_t stream) {
    Params<N> p{};
    const double chevron = median_us_per_launch(stream, [&](int i) {
        p.value = i;
        empty_kernel<N><<<64, 128, 0, stream>>>(p);
    });
    cudaLaunchConfig_t config{};
    config.gridDim = dim3(64);
    config.blockDim = dim3(128);
    config.stream = stream;
    const double ex = median_us_per_launch(stream, [&](int i) {
        p.value = i;
        cudaLaunchKernelEx(&config, empty_kernel<N>, p);
    });
    const cudaError_t e = cudaGetLastError();
    std::printf("| %6d | %6.2f | %6.2f | %s |\n", N, chevron, ex, e == cudaSuccess ? "ok" : cudaGetErrorString(e));
    return e == cudaSuccess;
}

}  // namespace

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device: nothing to measure\n");
        return 0;
    }
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    int driver = 0;
    cudaDriverGetVersion(&driver);
    cudaStream_t stream;
    cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
    std::printf("%s, driver %d, runtime %d: CPU us per launch (median of %d bursts of %d)\n", prop.name, driver,
                CUDART_VERSION, kBursts - kWarmupBursts, kBurst);
    std::printf("| param bytes | <<<>>> | cudaLaunchKernelEx | status |\n| ---: | ---: | ---: | --- |\n");
    bool ok = run<16>(stream) && run<256>(stream) && run<1024>(stream) && run<2048>(stream) && run<3368>(stream) &&
              run<3648>(stream) && run<4000>(stream);
#if CUDART_VERSION >= 12010
    // Parameters past 4 KB: CUDA 12.1+ on Volta and later.
    if (driver >= 12010) ok = ok && run<8192>(stream) && run<16384>(stream) && run<32000>(stream);
#endif
    ok = ok && run<16>(stream) && run<3368>(stream);  // the first sizes again, for drift
    cudaStreamDestroy(stream);
    return ok ? 0 : 1;
}
