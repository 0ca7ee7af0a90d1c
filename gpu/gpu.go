package gpu

import (
	"errors"
	"log/slog"
)

// ErrNoGPU is wrapped by Probe when there is no NVIDIA driver or no device.
var ErrNoGPU = errors.New("no NVIDIA GPU")

// Device is one GPU's state at the time of the probe. Fields NVML could not
// read (unsupported on the device) are zero.
type Device struct {
	Index             int
	Name              string
	UUID              string
	MemoryTotal       uint64  // bytes
	MemoryUsed        uint64  // bytes
	UtilizationGPU    uint32  // percent of time a kernel ran, last sample period
	UtilizationMemory uint32  // percent of time memory was read or written
	PowerWatts        float64 // current draw
	PowerLimitWatts   float64
	TemperatureC      uint32
	SMClockMHz        uint32
}

// LogStartup logs every GPU at Info, or a notice that there is none.
func LogStartup(logger *slog.Logger) []Device {
	devs, err := Probe()
	if err != nil {
		logger.Info("no GPU telemetry", "reason", err)
		return nil
	}
	for _, d := range devs {
		logger.Info("gpu", "index", d.Index, "name", d.Name,
			"memory_total_gib", float64(d.MemoryTotal)/(1<<30), "memory_used_gib", float64(d.MemoryUsed)/(1<<30),
			"util_pct", d.UtilizationGPU, "power_w", d.PowerWatts, "temp_c", d.TemperatureC, "sm_clock_mhz", d.SMClockMHz)
	}
	return devs
}
