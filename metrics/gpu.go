package metrics

import (
	"errors"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sotasystems/sota/gpu"
)

// gpuCollector reads every NVIDIA GPU through NVML at scrape time. Where
// there is no driver it reports nothing, and stops asking after the first
// scrape that found none.
type gpuCollector struct {
	probe func() ([]gpu.Device, error)

	mu   sync.Mutex
	none bool
}

func newGPUCollector() *gpuCollector { return &gpuCollector{probe: gpu.Probe} }

var gpuLabels = []string{"gpu", "uuid", "name"}

var (
	descGPUMemUsed  = prometheus.NewDesc(Prefix+"gpu_memory_used_bytes", "GPU memory in use (NVML).", gpuLabels, nil)
	descGPUMemTotal = prometheus.NewDesc(Prefix+"gpu_memory_total_bytes", "GPU memory (NVML).", gpuLabels, nil)
	descGPUUtil     = prometheus.NewDesc(Prefix+"gpu_utilization_ratio", "Fraction of the last sample period a kernel ran (NVML).", gpuLabels, nil)
	descGPUMemUtil  = prometheus.NewDesc(Prefix+"gpu_memory_utilization_ratio", "Fraction of the last sample period memory was read or written (NVML).", gpuLabels, nil)
	descGPUPower    = prometheus.NewDesc(Prefix+"gpu_power_watts", "GPU power draw (NVML).", gpuLabels, nil)
	descGPUPowerLim = prometheus.NewDesc(Prefix+"gpu_power_limit_watts", "GPU enforced power limit (NVML).", gpuLabels, nil)
	descGPUTemp     = prometheus.NewDesc(Prefix+"gpu_temperature_celsius", "GPU temperature (NVML).", gpuLabels, nil)
	descGPUClock    = prometheus.NewDesc(Prefix+"gpu_sm_clock_hertz", "GPU SM clock (NVML).", gpuLabels, nil)
)

func (c *gpuCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descGPUMemUsed, descGPUMemTotal, descGPUUtil, descGPUMemUtil, descGPUPower,
		descGPUPowerLim, descGPUTemp, descGPUClock} {
		ch <- d
	}
}

func (c *gpuCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.none {
		return
	}
	devs, err := c.probe()
	if errors.Is(err, gpu.ErrNoGPU) {
		c.none = true
		return
	}
	if err != nil {
		return // a device that failed to answer this time; try again next scrape
	}
	for _, d := range devs {
		l := []string{strconv.Itoa(d.Index), d.UUID, d.Name}
		g := func(desc *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, l...)
		}
		g(descGPUMemUsed, float64(d.MemoryUsed))
		g(descGPUMemTotal, float64(d.MemoryTotal))
		g(descGPUUtil, float64(d.UtilizationGPU)/100)
		g(descGPUMemUtil, float64(d.UtilizationMemory)/100)
		g(descGPUPower, d.PowerWatts)
		g(descGPUPowerLim, d.PowerLimitWatts)
		g(descGPUTemp, float64(d.TemperatureC))
		g(descGPUClock, float64(d.SMClockMHz)*1e6)
	}
}
