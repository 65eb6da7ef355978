/*
 * fakenvml: a fake libnvidia-ml.so.1 serving a deterministic 8 x H100 node,
 * so the exporter's real GPU path (go-nvml's dlopen and cgo calls) runs end to
 * end without a GPU. See README.md.
 *
 * It implements exactly the NVML C symbols go-nvml calls for the methods
 * collector/gpu uses (versioned names as go-nvml picks them after its
 * updateVersionedSymbols lookups), plus nvmlDeviceGetMemoryInfo, the
 * collector's fallback. Values depend on the GPU index only, never on time.
 *
 * Environment (read by nvmlInit_v2):
 *   FAKENVML_LOST_GPU=N   GPU N has fallen off the bus: getting its handle and
 *                         every call on a handle already held return
 *                         NVML_ERROR_GPU_IS_LOST, as the real driver does.
 *   FAKENVML_LOST_FILE=P  with FAKENVML_LOST_GPU: the GPU is lost only while the
 *                         file P exists, so a test can lose and recover it
 *                         while the exporter runs.
 *   FAKENVML_NA_GPU=N     the engine process of GPU N reports its memory as
 *                         NVML_VALUE_NOT_AVAILABLE (as WDDM always does).
 *   FAKENVML_SHUTDOWN_LOG=P  nvmlShutdown appends "shutdown <references left>"
 *                         to the file P.
 *   FAKENVML_XID=G:X      nvmlEventSetWait_v2 delivers one XID X event on GPU G
 *                         (once per load of the library) to a set on which G
 *                         registered XID events; otherwise it sleeps up to the
 *                         timeout (at most 50 ms) and returns NVML_ERROR_TIMEOUT.
 *   FAKENVML_MIG_GPUS=G,H GPUs G and H are in MIG mode.
 *   FAKENVML_MIG_FILE=P   their MIG devices, one per line "GPU GI_ID UUID PID"
 *                         (PID 0: no compute process), read again at every
 *                         listing, so a test creates and destroys MIG devices
 *                         while the exporter runs (as a DRA driver does). The
 *                         parent's compute processes are its MIG devices'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvml.h"

#define NGPU 8
#define NLINKS 18
#define MiB (1024ULL * 1024ULL)
#define GiB (1024ULL * MiB)

struct nvmlDevice_st {
	unsigned int index;
	/* A MIG device's (mig set): what the file said when its handle was made. */
	int mig;
	unsigned int gi;
	unsigned int pid;
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
};

struct nvmlGpuInstance_st {
	unsigned int gpu;
	unsigned int id;
};

struct nvmlEventSet_st {
	unsigned long long types[NGPU]; /* event types registered per GPU */
};

static struct nvmlDevice_st devices[NGPU] = {{.index = 0}, {.index = 1}, {.index = 2}, {.index = 3}, {.index = 4}, {.index = 5}, {.index = 6}, {.index = 7}};
static const unsigned int pci_bus[NGPU] = {0x19, 0x3b, 0x4c, 0x5d, 0x9b, 0xbb, 0xcc, 0xdd};

#define NMIG 7

static struct nvmlDevice_st migdevs[NGPU][NMIG];
static struct nvmlGpuInstance_st gpuinstances[NGPU][NMIG];
static unsigned int mig_gpus;   /* FAKENVML_MIG_GPUS, one bit per GPU */
static const char *mig_file;   /* FAKENVML_MIG_FILE */

static int initialized;       /* nvmlInit_v2 reference count */
static int lost_gpu = -1;     /* FAKENVML_LOST_GPU */
static const char *lost_file; /* FAKENVML_LOST_FILE */
static int xid_gpu = -1;      /* FAKENVML_XID */
static unsigned long long xid_code;
static int xid_delivered;
static int na_gpu = -1;       /* FAKENVML_NA_GPU */

static void copy_string(char *dst, unsigned int length, const char *src)
{
	snprintf(dst, length, "%s", src);
}

static int lost(unsigned int index)
{
	return (int)index == lost_gpu && (lost_file == NULL || access(lost_file, F_OK) == 0);
}

static int is_mig_handle(nvmlDevice_t dev)
{
	return dev.handle >= &migdevs[0][0] && dev.handle < &migdevs[0][0] + NGPU * NMIG;
}

/* device validates a handle: UNINITIALIZED, INVALID_ARGUMENT, GPU_IS_LOST or
 * SUCCESS with *index set. */
static nvmlReturn_t device(nvmlDevice_t dev, unsigned int *index)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	if (dev.handle < &devices[0] || dev.handle >= &devices[NGPU])
		return NVML_ERROR_INVALID_ARGUMENT;
	*index = dev.handle->index;
	if (lost(*index))
		return NVML_ERROR_GPU_IS_LOST;
	return NVML_SUCCESS;
}

#define DEVICE(dev, i)                                   \
	unsigned int i;                                  \
	do {                                             \
		nvmlReturn_t r_ = device((dev), &i);     \
		if (r_ != NVML_SUCCESS)                  \
			return r_;                       \
	} while (0)

#define NONNULL(p)                                       \
	do {                                             \
		if ((p) == NULL)                         \
			return NVML_ERROR_INVALID_ARGUMENT; \
	} while (0)

nvmlReturn_t nvmlInit_v2(void)
{
	const char *s;
	if (initialized++ > 0)
		return NVML_SUCCESS;
	lost_gpu = -1;
	if ((s = getenv("FAKENVML_LOST_GPU")) != NULL && *s != '\0')
		lost_gpu = atoi(s);
	lost_file = getenv("FAKENVML_LOST_FILE");
	na_gpu = -1;
	if ((s = getenv("FAKENVML_NA_GPU")) != NULL && *s != '\0')
		na_gpu = atoi(s);
	mig_gpus = 0;
	if ((s = getenv("FAKENVML_MIG_GPUS")) != NULL) {
		for (const char *p = s; *p != '\0'; p++)
			if (*p >= '0' && *p < '0' + NGPU)
				mig_gpus |= 1u << (*p - '0');
	}
	mig_file = getenv("FAKENVML_MIG_FILE");
	xid_gpu = -1;
	if ((s = getenv("FAKENVML_XID")) != NULL) {
		int g;
		unsigned long long x;
		if (sscanf(s, "%d:%llu", &g, &x) == 2) {
			xid_gpu = g;
			xid_code = x;
		}
	}
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	const char *log = getenv("FAKENVML_SHUTDOWN_LOG");
	FILE *f;
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	initialized--;
	if (log != NULL && (f = fopen(log, "a")) != NULL) {
		fprintf(f, "shutdown %d\n", initialized);
		fclose(f);
	}
	return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
	switch (result) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
	case NVML_ERROR_NOT_FOUND: return "Not Found";
	case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
	case NVML_ERROR_TIMEOUT: return "Timeout";
	case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
	case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
	case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
	case NVML_ERROR_NO_DATA: return "No data";
	case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
	default: return "Unknown Error";
	}
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(version);
	copy_string(version, length, "550.54.15");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
	NONNULL(cudaDriverVersion);
	*cudaDriverVersion = 12040;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(deviceCount);
	*deviceCount = NGPU;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	if (index >= NGPU || dev == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (lost(index))
		return NVML_ERROR_GPU_IS_LOST;
	dev->handle = &devices[index];
	return NVML_SUCCESS;
}

static int mig_mode(unsigned int i) { return (mig_gpus >> i) & 1; }

/* load_migs reads the MIG devices of GPU gpu from FAKENVML_MIG_FILE into out
 * (at most NMIG) and returns how many. */
static int load_migs(unsigned int gpu, struct nvmlDevice_st *out)
{
	FILE *f;
	char line[256];
	int n = 0;
	if (!mig_mode(gpu) || mig_file == NULL || (f = fopen(mig_file, "r")) == NULL)
		return 0;
	while (n < NMIG && fgets(line, sizeof line, f) != NULL) {
		unsigned int g, gi, pid;
		char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
		if (sscanf(line, "%u %u %79s %u", &g, &gi, uuid, &pid) != 4 || g != gpu)
			continue;
		out[n].index = gpu;
		out[n].mig = 1;
		out[n].gi = gi;
		out[n].pid = pid;
		copy_string(out[n].uuid, sizeof out[n].uuid, uuid);
		n++;
	}
	fclose(f);
	return n;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev, unsigned int *count)
{
	DEVICE(dev, i);
	NONNULL(count);
	*count = mig_mode(i) ? NMIG : 0;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev, unsigned int index, nvmlDevice_t *migDevice)
{
	struct nvmlDevice_st migs[NMIG];
	DEVICE(dev, i);
	NONNULL(migDevice);
	if (!mig_mode(i))
		return NVML_ERROR_NOT_SUPPORTED;
	if (index >= (unsigned int)load_migs(i, migs))
		return NVML_ERROR_NOT_FOUND;
	migdevs[i][index] = migs[index];
	migDevice->handle = &migdevs[i][index];
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t dev, unsigned int *id)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(id);
	if (!is_mig_handle(dev))
		return NVML_ERROR_INVALID_ARGUMENT; /* a full GPU has no GPU instance */
	*id = dev.handle->gi;
	return NVML_SUCCESS;
}

/* One GPU instance profile (1g.10gb, id 0) on MIG GPUs, for GPM's listing. */
nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t dev, unsigned int profile, nvmlGpuInstanceProfileInfo_t *info)
{
	DEVICE(dev, i);
	NONNULL(info);
	if (!mig_mode(i))
		return NVML_ERROR_NOT_SUPPORTED;
	if (profile != NVML_GPU_INSTANCE_PROFILE_1_SLICE)
		return NVML_ERROR_NOT_SUPPORTED;
	memset(info, 0, sizeof *info);
	info->id = NVML_GPU_INSTANCE_PROFILE_1_SLICE;
	info->sliceCount = 1;
	info->instanceCount = NMIG;
	info->multiprocessorCount = 16;
	info->memorySizeMB = 9856;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t dev, unsigned int profileId, nvmlGpuInstance_t *instances, unsigned int *count)
{
	struct nvmlDevice_st migs[NMIG];
	int n;
	DEVICE(dev, i);
	NONNULL(count);
	if (!mig_mode(i) || profileId != NVML_GPU_INSTANCE_PROFILE_1_SLICE)
		return NVML_ERROR_NOT_SUPPORTED;
	n = load_migs(i, migs);
	if (*count < (unsigned int)n) {
		*count = n;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	for (int k = 0; k < n; k++) {
		gpuinstances[i][k].gpu = i;
		gpuinstances[i][k].id = migs[k].gi;
		instances[k].handle = &gpuinstances[i][k];
	}
	*count = n;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(info);
	if (gpuInstance.handle < &gpuinstances[0][0] || gpuInstance.handle >= &gpuinstances[0][0] + NGPU * NMIG)
		return NVML_ERROR_INVALID_ARGUMENT;
	memset(info, 0, sizeof *info);
	info->device.handle = &devices[gpuInstance.handle->gpu];
	info->id = gpuInstance.handle->id;
	info->profileId = NVML_GPU_INSTANCE_PROFILE_1_SLICE;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int length)
{
	if (initialized && is_mig_handle(dev)) {
		NONNULL(uuid);
		copy_string(uuid, length, dev.handle->uuid);
		return NVML_SUCCESS;
	}
	DEVICE(dev, i);
	NONNULL(uuid);
	snprintf(uuid, length, "GPU-00000000-0000-0000-0000-00000000000%u", i);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int length)
{
	DEVICE(dev, i);
	NONNULL(name);
	copy_string(name, length, "NVIDIA H100 80GB HBM3");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	DEVICE(dev, i);
	NONNULL(pci);
	memset(pci, 0, sizeof *pci);
	pci->domain = 0;
	pci->bus = pci_bus[i];
	pci->device = 0;
	pci->pciDeviceId = 0x233010de;
	pci->pciSubSystemId = 0x16c110de;
	snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "0000:%02X:00.0", pci_bus[i]);
	snprintf(pci->busId, sizeof pci->busId, "00000000:%02X:00.0", pci_bus[i]);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *currentMode, unsigned int *pendingMode)
{
	DEVICE(dev, i);
	NONNULL(currentMode);
	NONNULL(pendingMode);
	*currentMode = *pendingMode = mig_mode(i) ? NVML_DEVICE_MIG_ENABLE : NVML_DEVICE_MIG_DISABLE;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u)
{
	DEVICE(dev, i);
	NONNULL(u);
	u->gpu = 90 + i;
	u->memory = 40 + i;
	return NVML_SUCCESS;
}

/* Memory: 80 GiB H100, 70 + i GiB used by the engine process of GPU i. */
static const unsigned long long mem_total = 81559 * MiB;
static const unsigned long long mem_reserved = 544 * MiB;
static unsigned long long mem_used(unsigned int i) { return (70 + i) * GiB + 512 * MiB; }
static unsigned long long proc_used(unsigned int i) { return (70 + i) * GiB; }

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *m)
{
	DEVICE(dev, i);
	NONNULL(m);
	if (m->version != nvmlMemory_v2)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	m->total = mem_total;
	m->reserved = mem_reserved;
	m->used = mem_used(i);
	m->free = mem_total - mem_reserved - m->used;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m)
{
	DEVICE(dev, i);
	NONNULL(m);
	m->total = mem_total;
	m->used = mem_reserved + mem_used(i);
	m->free = mem_total - m->used;
	return NVML_SUCCESS;
}

/* One compute process (the inference engine) per GPU: PID 4100 + i; a MIG
 * device's from the file; a MIG GPU's those of its MIG devices. */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t dev, unsigned int *infoCount, nvmlProcessInfo_t *infos)
{
	if (initialized && is_mig_handle(dev)) {
		unsigned int n = dev.handle->pid != 0;
		NONNULL(infoCount);
		if (*infoCount < n) {
			*infoCount = n;
			return NVML_ERROR_INSUFFICIENT_SIZE;
		}
		*infoCount = n;
		if (n) {
			NONNULL(infos);
			infos[0].pid = dev.handle->pid;
			infos[0].usedGpuMemory = 8 * GiB;
			infos[0].gpuInstanceId = dev.handle->gi;
			infos[0].computeInstanceId = 0;
		}
		return NVML_SUCCESS;
	}
	DEVICE(dev, i);
	if (mig_mode(i)) {
		struct nvmlDevice_st migs[NMIG];
		unsigned int n = 0;
		int m = load_migs(i, migs);
		NONNULL(infoCount);
		for (int k = 0; k < m; k++)
			n += migs[k].pid != 0;
		if (*infoCount < n) {
			*infoCount = n;
			return NVML_ERROR_INSUFFICIENT_SIZE;
		}
		*infoCount = 0;
		for (int k = 0; k < m; k++) {
			if (migs[k].pid == 0)
				continue;
			NONNULL(infos);
			infos[*infoCount].pid = migs[k].pid;
			infos[*infoCount].usedGpuMemory = 8 * GiB;
			infos[*infoCount].gpuInstanceId = migs[k].gi;
			infos[*infoCount].computeInstanceId = 0;
			(*infoCount)++;
		}
		return NVML_SUCCESS;
	}
	NONNULL(infoCount);
	if (*infoCount < 1) {
		*infoCount = 1;
		return NVML_ERROR_INSUFFICIENT_SIZE;
	}
	NONNULL(infos);
	*infoCount = 1;
	infos[0].pid = 4100 + i;
	infos[0].usedGpuMemory = (int)i == na_gpu ? (unsigned long long)NVML_VALUE_NOT_AVAILABLE : proc_used(i);
	infos[0].gpuInstanceId = 0xFFFFFFFF;
	infos[0].computeInstanceId = 0xFFFFFFFF;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int *power)
{
	DEVICE(dev, i);
	NONNULL(power);
	*power = 600000 + 1000 * i; /* milliwatts */
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned int *limit)
{
	DEVICE(dev, i);
	NONNULL(limit);
	*limit = 700000;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *energy)
{
	DEVICE(dev, i);
	NONNULL(energy);
	*energy = 1000000000ULL + 1000000ULL * i; /* millijoules */
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, nvmlTemperatureSensors_t sensor, unsigned int *temp)
{
	DEVICE(dev, i);
	NONNULL(temp);
	if (sensor != NVML_TEMPERATURE_GPU)
		return NVML_ERROR_INVALID_ARGUMENT;
	*temp = 60 + i;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t dev, int valuesCount, nvmlFieldValue_t *values)
{
	DEVICE(dev, i);
	if (valuesCount < 0 || (valuesCount > 0 && values == NULL))
		return NVML_ERROR_INVALID_ARGUMENT;
	for (int k = 0; k < valuesCount; k++) {
		nvmlFieldValue_t *v = &values[k];
		v->timestamp = 1700000000000000LL;
		v->latencyUsec = 0;
		if (v->fieldId == NVML_FI_DEV_MEMORY_TEMP) {
			v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
			v->value.uiVal = 70 + i;
			v->nvmlReturn = NVML_SUCCESS;
		} else {
			v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
		}
	}
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, nvmlClockType_t type, unsigned int *clock)
{
	DEVICE(dev, i);
	NONNULL(clock);
	switch (type) {
	case NVML_CLOCK_SM: *clock = 1980; break;
	case NVML_CLOCK_MEM: *clock = 2619; break;
	default: return NVML_ERROR_NOT_SUPPORTED;
	}
	return NVML_SUCCESS;
}

/* GPU 2 is power-capped (sw_power_cap), the others run unthrottled. */
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t dev, unsigned long long *reasons)
{
	DEVICE(dev, i);
	NONNULL(reasons);
	*reasons = i == 2 ? nvmlClocksEventReasonSwPowerCap : nvmlClocksEventReasonNone;
	return NVML_SUCCESS;
}

/* GPU 6 has a history of memory errors. */
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t dev, nvmlMemoryErrorType_t type, nvmlEccCounterType_t counter, unsigned long long *count)
{
	DEVICE(dev, i);
	NONNULL(count);
	if (counter != NVML_AGGREGATE_ECC && counter != NVML_VOLATILE_ECC)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (i != 6)
		*count = 0;
	else
		*count = type == NVML_MEMORY_ERROR_TYPE_CORRECTED ? 12 : 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t dev, unsigned int *corrRows, unsigned int *uncRows,
                                       unsigned int *isPending, unsigned int *failureOccurred)
{
	DEVICE(dev, i);
	NONNULL(corrRows);
	NONNULL(uncRows);
	NONNULL(isPending);
	NONNULL(failureOccurred);
	*corrRows = i == 6 ? 2 : 0;
	*uncRows = i == 6 ? 1 : 0;
	*isPending = i == 6;
	*failureOccurred = 0;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t dev, unsigned int *value)
{
	DEVICE(dev, i);
	NONNULL(value);
	*value = i;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t dev, unsigned int *gen)
{
	DEVICE(dev, i);
	NONNULL(gen);
	*gen = 5;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t dev, unsigned int *width)
{
	DEVICE(dev, i);
	NONNULL(width);
	*width = 16;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t dev, nvmlPcieUtilCounter_t counter, unsigned int *value)
{
	DEVICE(dev, i);
	NONNULL(value);
	switch (counter) {
	case NVML_PCIE_UTIL_TX_BYTES: *value = 1000 + i; break; /* KB/s */
	case NVML_PCIE_UTIL_RX_BYTES: *value = 2000 + i; break;
	default: return NVML_ERROR_INVALID_ARGUMENT;
	}
	return NVML_SUCCESS;
}

/* 18 NVLinks per GPU, all up; link 17 of GPU 1 is down. */
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t dev, unsigned int link, nvmlEnableState_t *isActive)
{
	DEVICE(dev, i);
	NONNULL(isActive);
	if (link >= NLINKS)
		return NVML_ERROR_INVALID_ARGUMENT;
	*isActive = (i == 1 && link == NLINKS - 1) ? NVML_FEATURE_DISABLED : NVML_FEATURE_ENABLED;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t dev, unsigned int link,
                                             nvmlNvLinkErrorCounter_t counter, unsigned long long *value)
{
	DEVICE(dev, i);
	NONNULL(value);
	if (link >= NLINKS)
		return NVML_ERROR_INVALID_ARGUMENT;
	switch (counter) {
	case NVML_NVLINK_ERROR_DL_REPLAY: *value = link == 0 ? i : 0; break;
	case NVML_NVLINK_ERROR_DL_RECOVERY: *value = 0; break;
	case NVML_NVLINK_ERROR_DL_CRC_FLIT: *value = link == 0 ? 2 * i : 0; break;
	case NVML_NVLINK_ERROR_DL_CRC_DATA: *value = 0; break;
	default: return NVML_ERROR_INVALID_ARGUMENT;
	}
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(set);
	set->handle = calloc(1, sizeof *set->handle);
	return set->handle ? NVML_SUCCESS : NVML_ERROR_MEMORY;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long eventTypes, nvmlEventSet_t set)
{
	DEVICE(dev, i);
	if (set.handle == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (eventTypes & ~(unsigned long long)nvmlEventTypeXidCriticalError)
		return NVML_ERROR_NOT_SUPPORTED;
	set.handle->types[i] |= eventTypes;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms)
{
	struct timespec ts;
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	if (set.handle == NULL || data == NULL)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (!xid_delivered && xid_gpu >= 0 && xid_gpu < NGPU &&
	    (set.handle->types[xid_gpu] & nvmlEventTypeXidCriticalError)) {
		xid_delivered = 1;
		memset(data, 0, sizeof *data);
		data->device.handle = &devices[xid_gpu];
		data->eventType = nvmlEventTypeXidCriticalError;
		data->eventData = xid_code;
		data->gpuInstanceId = 0xFFFFFFFF;
		data->computeInstanceId = 0xFFFFFFFF;
		return NVML_SUCCESS;
	}
	if (timeoutms > 50)
		timeoutms = 50;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)timeoutms * 1000000L;
	nanosleep(&ts, NULL);
	return NVML_ERROR_TIMEOUT;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set)
{
	free(set.handle);
	return NVML_SUCCESS;
}

/*
 * GPM (GPU Performance Monitoring). Every GPU supports it. A sample records
 * its GPU and a sequence number; nvmlGpmMetricsGet checks that its two
 * samples are of the same GPU and in order, and answers, for GPU i:
 *   SM active 50+i %, SM occupancy 30+i %, any tensor 40+i %, HMMA 35+i %,
 *   FP64 1+i %, FP32 10+i %, FP16 5+i %, DRAM bandwidth 60+i %,
 *   PCIe TX 100+i MiB/s, RX 200+i MiB/s,
 *   NVLink link L: RX 10*(i+1)+L MiB/s, TX twice that (0 for link 17 of
 *   GPU 1, which is down), the totals their sums over the 18 links;
 * anything else NVML_ERROR_NOT_SUPPORTED in the metric's nvmlReturn.
 * MIG is off, so nvmlGpmMigSampleGet answers NVML_ERROR_NOT_SUPPORTED.
 */
struct nvmlGpmSample_st {
	int gpu; /* -1 until taken */
	unsigned long long seq;
};

static unsigned long long gpm_seq;

nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t dev, nvmlGpmSupport_t *support)
{
	DEVICE(dev, i);
	(void)i;
	NONNULL(support);
	if (support->version != NVML_GPM_SUPPORT_VERSION)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	support->isSupportedDevice = 1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *sample)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(sample);
	sample->handle = calloc(1, sizeof *sample->handle);
	if (sample->handle == NULL)
		return NVML_ERROR_MEMORY;
	sample->handle->gpu = -1;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t sample)
{
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(sample.handle);
	free(sample.handle);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t dev, nvmlGpmSample_t sample)
{
	DEVICE(dev, i);
	NONNULL(sample.handle);
	sample.handle->gpu = (int)i;
	sample.handle->seq = ++gpm_seq;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t dev, unsigned int gpuInstanceId, nvmlGpmSample_t sample)
{
	DEVICE(dev, i);
	(void)i;
	(void)gpuInstanceId;
	NONNULL(sample.handle);
	return NVML_ERROR_NOT_SUPPORTED;
}

static double nvlink_rx(unsigned int i, unsigned int link)
{
	if (i == 1 && link == NLINKS - 1)
		return 0;
	return 10.0 * (i + 1) + link;
}

static int gpm_value(unsigned int metric, unsigned int i, double *v)
{
	double sum = 0;
	switch (metric) {
	case NVML_GPM_METRIC_SM_UTIL: *v = 50 + i; return 1;
	case NVML_GPM_METRIC_SM_OCCUPANCY: *v = 30 + i; return 1;
	case NVML_GPM_METRIC_ANY_TENSOR_UTIL: *v = 40 + i; return 1;
	case NVML_GPM_METRIC_HMMA_TENSOR_UTIL: *v = 35 + i; return 1;
	case NVML_GPM_METRIC_FP64_UTIL: *v = 1 + i; return 1;
	case NVML_GPM_METRIC_FP32_UTIL: *v = 10 + i; return 1;
	case NVML_GPM_METRIC_FP16_UTIL: *v = 5 + i; return 1;
	case NVML_GPM_METRIC_DRAM_BW_UTIL: *v = 60 + i; return 1;
	case NVML_GPM_METRIC_PCIE_TX_PER_SEC: *v = 100 + i; return 1;
	case NVML_GPM_METRIC_PCIE_RX_PER_SEC: *v = 200 + i; return 1;
	case NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC:
	case NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC:
		for (unsigned int l = 0; l < NLINKS; l++)
			sum += nvlink_rx(i, l);
		*v = metric == NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC ? 2 * sum : sum;
		return 1;
	}
	if (metric >= NVML_GPM_METRIC_NVLINK_L0_RX_PER_SEC && metric <= NVML_GPM_METRIC_NVLINK_L17_TX_PER_SEC) {
		unsigned int k = metric - NVML_GPM_METRIC_NVLINK_L0_RX_PER_SEC;
		*v = (k % 2 ? 2 : 1) * nvlink_rx(i, k / 2);
		return 1;
	}
	return 0;
}

nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *get)
{
	struct nvmlGpmSample_st *s1, *s2;
	if (!initialized)
		return NVML_ERROR_UNINITIALIZED;
	NONNULL(get);
	if (get->version != NVML_GPM_METRICS_GET_VERSION)
		return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
	s1 = get->sample1.handle;
	s2 = get->sample2.handle;
	if (s1 == NULL || s2 == NULL || s1->gpu < 0 || s1->gpu != s2->gpu || s1->seq >= s2->seq)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (get->numMetrics > NVML_GPM_METRIC_MAX)
		return NVML_ERROR_INVALID_ARGUMENT;
	if (lost((unsigned int)s1->gpu))
		return NVML_ERROR_GPU_IS_LOST;
	for (unsigned int k = 0; k < get->numMetrics; k++) {
		nvmlGpmMetric_t *m = &get->metrics[k];
		memset(&m->metricInfo, 0, sizeof m->metricInfo);
		if (gpm_value(m->metricId, (unsigned int)s1->gpu, &m->value)) {
			m->nvmlReturn = NVML_SUCCESS;
		} else {
			m->value = 0;
			m->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
		}
	}
	return NVML_SUCCESS;
}
