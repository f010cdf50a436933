"""Land surface temperature from the periodic solution of the heat equation (SCIENCE.md 1.1–1.3).

The surface energy balance is linearised about the air temperature, so the forcing
F = Q + h·T_a of a pixel is a linear combination of a few base series that are the same
for every pixel of a scene (shortwave, net longwave at T_a, vapour-pressure deficit, air
temperature). Their harmonics are computed once per day; each pixel only combines them
and divides by its impedance Z_n = h + P·sqrt(nω/2)·(1 + i).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

SIGMA = 5.670374419e-8
"""Stefan–Boltzmann constant (W m-2 K-4)."""
SOLAR_CONSTANT = 1361.0
KELVIN = 273.15
PSYCHROMETRIC = 0.066
"""Psychrometric constant γ (kPa K-1)."""
SENSIBLE_HEAT_COEFFICIENT = 15.0
"""h_s = ρ_a c_p / r_a (W m-2 K-1), r_a ≈ 80 s m-1 (a mean wind of ~2–3 m s-1 at 2 m)."""
FREE_CONVECTION_COEFFICIENT = 5.0
"""Floor of h_s in calm air (W m-2 K-1): free convection keeps exchanging heat without wind."""
N_SAMPLES = 96
N_HARMONICS = 24
"""Harmonics summed by :func:`surface_temperature`; the truncation error is < 0.05 K."""
OMEGA = 2.0 * np.pi / 86400.0
"""Angular frequency of the daily cycle (s-1)."""
Sunshine = tuple[Sequence[np.ndarray], Sequence[np.ndarray]]
"""Extra shortwave per pixel: (series S_k at the forcing's hours, per-pixel weights w_k)."""
DAYS_PER_YEAR = 365.0
WARMEST_DOY = 200.0
AIR_MAX_HOUR = 15.0
CLOUD_TAU_LOSS = 0.5
"""Fraction of the clear-sky transmissivity lost under full cloud."""
CLOUD_AIR_RANGE_LOSS = 0.5
"""Fraction of the diurnal air-temperature amplitude lost under full cloud."""
BRUTSAERT_COEFFICIENT = 1.24

CANOPY_ALBEDO = 0.18
CANOPY_EMISSIVITY = 0.985


@dataclass(frozen=True)
class Site:
    """Climate of a study area (defaults: central Spain, SCIENCE 1.2).

    Attributes:
        lat_deg: latitude (degrees north).
        lon_deg: longitude (degrees east); used by callers to convert UTC to solar time.
        mean_air_temperature_c: annual mean air temperature (°C).
        annual_air_amplitude_k: amplitude of the seasonal air-temperature cosine (K).
        daily_air_amplitude_summer_k: diurnal air amplitude in mid-summer (K).
        daily_air_amplitude_winter_k: diurnal air amplitude in mid-winter (K).
        rh_summer: daily relative humidity in mid-summer (0–1).
        rh_winter: daily relative humidity in mid-winter (0–1).
        tau: clear-sky atmospheric transmissivity.
    """

    lat_deg: float
    lon_deg: float
    mean_air_temperature_c: float
    annual_air_amplitude_k: float
    daily_air_amplitude_summer_k: float = 7.5
    daily_air_amplitude_winter_k: float = 5.0
    rh_summer: float = 0.35
    rh_winter: float = 0.75
    tau: float = 0.74


@dataclass(frozen=True)
class DailyForcing:
    """Atmospheric forcing of one day at N local solar times, the same for every pixel.

    Attributes:
        hours: local solar times (h), ``arange(N)·24/N``.
        shortwave: incoming shortwave S↓ (W m-2).
        longwave: incoming longwave L↓ (W m-2).
        air_temperature: air temperature T_a (K).
        vpd: vapour-pressure deficit (kPa).
        delta: slope of the saturation vapour pressure at the daily mean T_a (kPa K-1).
        sensible: the day's sensible-heat coefficient h_s = ρ_a c_p C_H U (W m-2 K-1); it
            follows the wind speed, and an array gives each pixel its own (wind exposure).
    """

    hours: np.ndarray
    shortwave: np.ndarray
    longwave: np.ndarray
    air_temperature: np.ndarray
    vpd: np.ndarray
    delta: float
    sensible: np.ndarray | float = SENSIBLE_HEAT_COEFFICIENT

    @property
    def mean_air_temperature(self) -> float:
        """Daily mean air temperature (K)."""
        return float(np.mean(self.air_temperature))


def saturation_vapour_pressure(temperature_k: np.ndarray | float) -> np.ndarray:
    """Saturation vapour pressure over water (Tetens; kPa)."""
    t_c = np.asarray(temperature_k, dtype=np.float64) - KELVIN
    return 0.6108 * np.exp(17.27 * t_c / (t_c + 237.3))


def saturation_slope(temperature_k: np.ndarray | float) -> np.ndarray:
    """Slope Δ = de_s/dT of the saturation vapour pressure (kPa K-1)."""
    t_c = np.asarray(temperature_k, dtype=np.float64) - KELVIN
    return 4098.0 * saturation_vapour_pressure(temperature_k) / (t_c + 237.3) ** 2


def solar_declination(doy: float) -> float:
    """Solar declination (radians; Cooper 1969)."""
    return float(np.radians(23.44) * np.sin(2.0 * np.pi * (284.0 + doy) / DAYS_PER_YEAR))


def cos_zenith(lat_deg: float, doy: float, hours: np.ndarray) -> np.ndarray:
    """Cosine of the solar zenith angle at local solar times ``hours``."""
    lat = np.radians(lat_deg)
    dec = solar_declination(doy)
    hour_angle = np.radians(15.0 * (np.asarray(hours) - 12.0))
    return np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(hour_angle)


def clear_sky_shortwave(lat_deg: float, doy: float, hours: np.ndarray, tau: float) -> np.ndarray:
    """S↓ = S0·E0·cosZ·τ^(1/cosZ), zero with the sun below the horizon (W m-2)."""
    mu = cos_zenith(lat_deg, doy, hours)
    eccentricity = 1.0 + 0.033 * np.cos(2.0 * np.pi * doy / DAYS_PER_YEAR)
    safe_mu = np.maximum(mu, 1e-3)
    return np.where(mu > 0.0, SOLAR_CONSTANT * eccentricity * safe_mu * tau ** (1.0 / safe_mu), 0.0)


def summer_weight(doy: float) -> float:
    """0 in mid-winter, 1 at the warmest day (doy ≈ 200), a cosine in between."""
    return 0.5 * (1.0 + float(np.cos(2.0 * np.pi * (doy - WARMEST_DOY) / DAYS_PER_YEAR)))


def seasonal_air_temperature(site: Site, doy: float, lag_days: float = 0.0) -> float:
    """Daily mean air temperature (K): T̄_y + A_y·cos(2π(doy − 200)/365), optionally low-passed.

    Args:
        site: the site climate.
        doy: day of year.
        lag_days: time constant of a first-order low-pass (lakes: 20–40 days); it delays
            the seasonal cycle by atan(ω_y·τ)/ω_y and damps it by 1/sqrt(1 + (ω_y·τ)²).
    """
    omega_year = 2.0 * np.pi / DAYS_PER_YEAR
    damping = 1.0 / np.hypot(1.0, omega_year * lag_days)
    phase = omega_year * (doy - WARMEST_DOY) - np.arctan(omega_year * lag_days)
    return site.mean_air_temperature_c + KELVIN + site.annual_air_amplitude_k * damping * float(np.cos(phase))


def daily_forcing(site: Site, doy: int, cloudiness: float = 0.0, air_lag_days: float = 0.0) -> DailyForcing:
    """The forcing of one day at ``N_SAMPLES`` local solar times (SCIENCE 1.2).

    Args:
        site: the site climate.
        doy: day of year.
        cloudiness: cloud fraction 0–1; lowers τ and the diurnal air range, raises L↓
            (Crawford & Duchon 1999: ε_sky = c + (1 − c)·ε_clear).
        air_lag_days: low-pass time constant of the seasonal air temperature (see
            :func:`seasonal_air_temperature`); use 20–40 days to force water bodies.

    Returns:
        The day's forcing.
    """
    hours = np.arange(N_SAMPLES) * 24.0 / N_SAMPLES
    weight = summer_weight(doy)
    amplitude = site.daily_air_amplitude_winter_k + weight * (
        site.daily_air_amplitude_summer_k - site.daily_air_amplitude_winter_k
    )
    amplitude *= 1.0 - CLOUD_AIR_RANGE_LOSS * cloudiness
    mean_air = seasonal_air_temperature(site, doy, air_lag_days)
    air = mean_air + amplitude * np.cos(2.0 * np.pi * (hours - AIR_MAX_HOUR) / 24.0)
    humidity = site.rh_winter + weight * (site.rh_summer - site.rh_winter)
    vapour = humidity * float(saturation_vapour_pressure(mean_air))
    clear_sky = BRUTSAERT_COEFFICIENT * (10.0 * vapour / air) ** (1.0 / 7.0)
    sky_emissivity = np.minimum(cloudiness + (1.0 - cloudiness) * clear_sky, 1.0)
    tau = site.tau * (1.0 - CLOUD_TAU_LOSS * cloudiness)
    return DailyForcing(
        hours=hours,
        shortwave=clear_sky_shortwave(site.lat_deg, doy, hours, tau),
        longwave=sky_emissivity * SIGMA * air**4,
        air_temperature=air,
        vpd=np.maximum(saturation_vapour_pressure(air) - vapour, 0.0),
        delta=float(saturation_slope(mean_air)),
    )


def heat_transfer_coefficient(
    forcing: DailyForcing, emissivity: np.ndarray | float, beta: np.ndarray | float
) -> np.ndarray:
    """h = 4εσT̄_a³ + h_s·(1 + βΔ/γ) (W m-2 K-1)."""
    radiative = 4.0 * np.asarray(emissivity) * SIGMA * forcing.mean_air_temperature**3
    return radiative + np.asarray(forcing.sensible) * (1.0 + np.asarray(beta) * forcing.delta / PSYCHROMETRIC)


@dataclass(frozen=True)
class _Spectra:
    """rfft of the base series that every pixel's forcing combines."""

    shortwave: np.ndarray
    net_longwave: np.ndarray
    vpd: np.ndarray
    air: np.ndarray


@dataclass(frozen=True)
class _Weights:
    """Per-pixel weights: F = absorbed·S + emissivity·(L↓ − σT_a⁴) − evaporative·VPD + h·T_a."""

    absorbed: np.ndarray
    emissivity: np.ndarray
    evaporative: np.ndarray
    h: np.ndarray


def _spectra(forcing: DailyForcing) -> _Spectra:
    return _Spectra(
        shortwave=np.fft.rfft(forcing.shortwave),
        net_longwave=np.fft.rfft(forcing.longwave - SIGMA * forcing.air_temperature**4),
        vpd=np.fft.rfft(forcing.vpd),
        air=np.fft.rfft(forcing.air_temperature),
    )


def _weights(
    forcing: DailyForcing, albedo: np.ndarray | float, emissivity: np.ndarray | float, beta: np.ndarray | float
) -> _Weights:
    beta = np.asarray(beta, dtype=np.float64)
    emissivity = np.asarray(emissivity, dtype=np.float64)
    return _Weights(
        absorbed=1.0 - np.asarray(albedo, dtype=np.float64),
        emissivity=emissivity,
        evaporative=beta * np.asarray(forcing.sensible) / PSYCHROMETRIC,
        h=heat_transfer_coefficient(forcing, emissivity, beta),
    )


def _forcing_harmonic(spectra: _Spectra, weights: _Weights, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of the pixel forcing harmonic F̂_n."""
    parts = []
    for part in ("real", "imag"):
        s, lw, v, ta = (
            getattr(spectrum[n], part)
            for spectrum in (spectra.shortwave, spectra.net_longwave, spectra.vpd, spectra.air)
        )
        parts.append(weights.absorbed * s + weights.emissivity * lw - weights.evaporative * v + weights.h * ta)
    return parts[0], parts[1]


def surface_temperature(
    forcing: DailyForcing,
    albedo: np.ndarray | float,
    emissivity: np.ndarray | float,
    beta: np.ndarray | float,
    inertia: np.ndarray | float,
    solar_hour: np.ndarray | float,
    n_harmonics: int = N_HARMONICS,
    sunshine: Sunshine | None = None,
) -> np.ndarray:
    """Surface temperature (K) of the periodic steady state at local solar time ``solar_hour``.

    The harmonic series is summed directly at the requested time, one harmonic at a time
    in real arithmetic: T_s = [F̂_0/h + 2·Σ Re(F̂_n·e^{inωt}/Z_n)]/N with
    Z_n = h + a_n·(1 + i), a_n = P·sqrt(nω/2). The cost is ~n_harmonics vectorised passes.

    Args:
        forcing: the day's forcing.
        albedo: broadband albedo.
        emissivity: broadband emissivity.
        beta: evaporation efficiency (0–1).
        inertia: thermal inertia P (TIU); 0 for a canopy, ~5e4 for water.
        solar_hour: local solar time (h); any shape broadcastable with the parameters.
        n_harmonics: harmonics kept (at most N_SAMPLES/2 − 1).
        sunshine: extra shortwave per pixel, Σ_k w_k·S_k(t) (W m-2 before albedo), as
            (series S_k at ``forcing.hours``, per-pixel weights w_k): the sunshine a slope
            gains or loses against flat ground. The balance is linear in the forcing, so
            it joins the forcing harmonics and the series is summed once.

    Returns:
        T_s in kelvin, the broadcast shape of the inputs.
    """
    spectra = _spectra(forcing)
    weights = _weights(forcing, albedo, emissivity, beta)
    if sunshine is None:
        return _harmonic_sum(
            lambda n: _forcing_harmonic(spectra, weights, n), weights.h, inertia, solar_hour, n_harmonics
        )
    series, pixel_weights = sunshine
    extra = np.stack([np.fft.rfft(s) for s in series])  # (K, N/2 + 1)
    stacked = np.stack([np.asarray(w, dtype=np.float64) for w in pixel_weights])  # (K, *pixels)

    def harmonic(n: int) -> tuple[np.ndarray, np.ndarray]:
        real, imag = _forcing_harmonic(spectra, weights, n)
        real = real + weights.absorbed * np.tensordot(extra[:, n].real, stacked, axes=1)
        imag = imag + weights.absorbed * np.tensordot(extra[:, n].imag, stacked, axes=1)
        return real, imag

    return _harmonic_sum(harmonic, weights.h, inertia, solar_hour, n_harmonics)


def _harmonic_sum(
    harmonic: Callable[[int], tuple[np.ndarray, np.ndarray]],
    h: np.ndarray,
    inertia: np.ndarray | float,
    solar_hour: np.ndarray | float,
    n_harmonics: int,
) -> np.ndarray:
    """[F̂_0/h + 2·Σ Re(F̂_n·e^{inωt}/Z_n)]/N for the pixel forcing harmonics ``harmonic(n)``."""
    inertia = np.asarray(inertia, dtype=np.float64)
    phase = 2.0 * np.pi * np.asarray(solar_hour, dtype=np.float64) / 24.0
    cos_step, sin_step = np.cos(phase), np.sin(phase)
    cos_n, sin_n = np.ones_like(phase), np.zeros_like(phase)
    total = harmonic(0)[0] / h
    for n in range(1, min(n_harmonics, N_SAMPLES // 2 - 1) + 1):
        cos_n, sin_n = cos_n * cos_step - sin_n * sin_step, sin_n * cos_step + cos_n * sin_step
        real_f, imag_f = harmonic(n)
        a = inertia * np.sqrt(n * OMEGA / 2.0)
        real_z = h + a
        modulus = real_z**2 + a**2
        real_t = (real_f * real_z + imag_f * a) / modulus
        imag_t = (imag_f * real_z - real_f * a) / modulus
        total = total + 2.0 * (real_t * cos_n - imag_t * sin_n)
    return total / N_SAMPLES


def sun_vector(lat_deg: float, doy: float, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vector towards the sun (east, north, up) at local solar times ``hours``."""
    lat = np.radians(lat_deg)
    dec = solar_declination(doy)
    hour_angle = np.radians(15.0 * (np.asarray(hours, dtype=np.float64) - 12.0))
    east = -np.cos(dec) * np.sin(hour_angle)
    north = np.cos(lat) * np.sin(dec) - np.sin(lat) * np.cos(dec) * np.cos(hour_angle)
    return east, north, cos_zenith(lat_deg, doy, hours)


def diurnal_cycle(
    forcing: DailyForcing,
    albedo: np.ndarray | float,
    emissivity: np.ndarray | float,
    beta: np.ndarray | float,
    inertia: np.ndarray | float,
) -> np.ndarray:
    """T_s (K) at all ``forcing.hours`` with every harmonic, shape (N_SAMPLES, *pixel_shape)."""
    albedo, emissivity, beta, inertia = np.broadcast_arrays(albedo, emissivity, beta, inertia)
    weights = _weights(forcing, albedo, emissivity, beta)
    expand = (slice(None),) + (None,) * albedo.ndim
    net_longwave = forcing.longwave - SIGMA * forcing.air_temperature**4
    total = (
        weights.absorbed * forcing.shortwave[expand]
        + weights.emissivity * net_longwave[expand]
        - weights.evaporative * forcing.vpd[expand]
        + weights.h * forcing.air_temperature[expand]
    )
    n = np.arange(N_SAMPLES // 2 + 1)[expand]
    impedance = weights.h + inertia * np.sqrt(n * OMEGA / 2.0) * (1.0 + 1.0j)
    return np.fft.irfft(np.fft.rfft(total, axis=0) / impedance, n=N_SAMPLES, axis=0)


def canopy_temperature(
    forcing: DailyForcing,
    solar_hour: np.ndarray | float,
    beta_v: np.ndarray | float,
    albedo_v: np.ndarray | float = CANOPY_ALBEDO,
    emissivity_v: np.ndarray | float = CANOPY_EMISSIVITY,
    sunshine: Sunshine | None = None,
) -> np.ndarray:
    """Canopy temperature (K): the same balance with no heat storage (P = 0)."""
    return surface_temperature(forcing, albedo_v, emissivity_v, beta_v, 0.0, solar_hour, sunshine=sunshine)


def mix_temperatures(
    t_soil: np.ndarray,
    t_canopy: np.ndarray,
    cover_fraction: np.ndarray,
    emissivity_soil: np.ndarray,
    emissivity_canopy: np.ndarray | float = CANOPY_EMISSIVITY,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel temperature and emissivity of a soil–canopy mix (SCIENCE 1.3).

    Returns:
        (T_pix, ε_pix) with ε_pix = f·ε_v + (1−f)·ε_s and
        T_pix = [(f·ε_v·T_c⁴ + (1−f)·ε_s·T_s⁴)/ε_pix]^(1/4).
    """
    f = np.clip(cover_fraction, 0.0, 1.0)
    canopy = f * np.asarray(emissivity_canopy)
    soil = (1.0 - f) * np.asarray(emissivity_soil)
    emissivity = canopy + soil
    radiance = canopy * np.asarray(t_canopy, dtype=np.float64) ** 4 + soil * np.asarray(t_soil, dtype=np.float64) ** 4
    return (radiance / emissivity) ** 0.25, emissivity
